"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), the network that won ILSVRC-2012.

The single-tower form in which AlexNet is usually rebuilt today: the paper's five convolutions
(96, 256, 384, 384, 256 filters) and three dense layers (4096, 4096, 1000) with ReLU, max pooling
of 3x3 windows at stride 2 (overlapping pooling) and dropout 0.5 on the outputs of the two
hidden dense layers. The paper's two-GPU split (grouped convolutions 2, 4 and 5) and its local
response normalisation are left out, as in most modern re-implementations; 'same' padding keeps
the paper's map sizes: 227 -> 55 -> 27 -> 13 -> 6, so 6 * 6 * 256 = 9,216 features reach the
dense layers. On 227x227x3 inputs it has 62,378,344 parameters.
"""
from __future__ import annotations

__all__ = ["alexnet"]


def alexnet(input_shape=(227, 227, 3), num_classes: int = 1000, dropout: float = 0.5):
    """Build AlexNet as a ``Sequential`` model (uncompiled, ready for ``summary()``).

    Args:
        input_shape: ``(height, width, channels)``; 227x227x3 gives the paper's 55x55 first map.
        num_classes: units of the softmax output (1,000 ImageNet classes).
        dropout: the dropout rate after each hidden dense layer (the paper's 0.5).

    Returns:
        A built ``cnnkit.Sequential``.

    Example:
        >>> from cnnkit.zoo import alexnet
        >>> alexnet().count_params()
        62378344
    """
    from ..layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from ..models import Sequential

    return Sequential(
        [
            Conv2D(96, kernel_size=(11, 11), strides=(4, 4), activation="relu", input_shape=tuple(input_shape)),
            MaxPooling2D(pool_size=(3, 3), strides=(2, 2)),
            Conv2D(256, kernel_size=(5, 5), padding="same", activation="relu"),
            MaxPooling2D(pool_size=(3, 3), strides=(2, 2)),
            Conv2D(384, kernel_size=(3, 3), padding="same", activation="relu"),
            Conv2D(384, kernel_size=(3, 3), padding="same", activation="relu"),
            Conv2D(256, kernel_size=(3, 3), padding="same", activation="relu"),
            MaxPooling2D(pool_size=(3, 3), strides=(2, 2)),
            Flatten(),
            Dense(4096, activation="relu"),
            Dropout(dropout),
            Dense(4096, activation="relu"),
            Dropout(dropout),
            Dense(num_classes, activation="softmax"),
        ],
        name="alexnet",
    )
