"""Keras-compatible layers: ``from cnnkit.layers import Conv2D, AveragePooling2D, Flatten, Dense``.

Every class has Keras 3's name, constructor arguments and defaults (the activation layers ReLU,
LeakyReLU, Softmax, ELU and PReLU included); Keras's aliases
(``MaxPool2D``, ``AvgPool2D``, ``Convolution2D``, ...) name the same classes.
``LAYER_REGISTRY`` maps every public name to its class: loading a saved model resolves layer
class names through it and nothing else, so a model file can never import or run other code.
"""
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .base import InputSpec, Layer, clear_session
from .convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .preprocessing import (
    Normalization,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
)
from .reshaping import Reshape, ZeroPadding1D, ZeroPadding2D

# Keras's aliases: other names for the same classes.
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D

_LAYER_CLASSES = (
    Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D,
    SeparableConv1D, SeparableConv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, Dense, Flatten,
    Dropout, Activation, InputLayer, BatchNormalization, ZeroPadding1D, ZeroPadding2D, Reshape, Rescaling,
    Normalization, RandomFlip, RandomTranslation, RandomRotation, RandomZoom, ReLU, LeakyReLU, Softmax, ELU, PReLU,
)
_ALIASES = {
    "MaxPool1D": MaxPool1D, "MaxPool2D": MaxPool2D, "AvgPool1D": AvgPool1D, "AvgPool2D": AvgPool2D,
    "GlobalAvgPool1D": GlobalAvgPool1D, "GlobalAvgPool2D": GlobalAvgPool2D,
    "GlobalMaxPool1D": GlobalMaxPool1D, "GlobalMaxPool2D": GlobalMaxPool2D,
    "Convolution1D": Convolution1D, "Convolution2D": Convolution2D, "Convolution3D": Convolution3D,
    "Convolution1DTranspose": Convolution1DTranspose, "Convolution2DTranspose": Convolution2DTranspose,
    "SeparableConvolution1D": SeparableConvolution1D, "SeparableConvolution2D": SeparableConvolution2D,
}
LAYER_REGISTRY = {cls.__name__: cls for cls in _LAYER_CLASSES}
LAYER_REGISTRY.update(_ALIASES)

__all__ = ["Layer", "InputSpec", "clear_session", "LAYER_REGISTRY", "Input", *LAYER_REGISTRY]
