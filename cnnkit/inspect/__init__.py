"""Looking inside a network without training it: receptive fields, parameter and FLOP counts.

- ``receptive_field``: how far each layer's features see into the input (size, jump, start).
- ``counting``: parameters and multiply-accumulates per layer.

Example:
    >>> from cnnkit.inspect import receptive_field_size
    >>> receptive_field_size([3, 3, 3])
    (7, 7)
"""
from .counting import LayerCount, count_layers, format_counts
from .receptive_field import ReceptiveField, format_receptive_fields, receptive_field_size, receptive_fields

__all__ = [
    "LayerCount",
    "count_layers",
    "format_counts",
    "ReceptiveField",
    "format_receptive_fields",
    "receptive_field_size",
    "receptive_fields",
]
