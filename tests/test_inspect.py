"""cnnkit.inspect: receptive fields (seed-examples section 6) and parameter / MAC counts."""
import pytest

from cnnkit.inspect import (
    count_layers,
    format_counts,
    format_receptive_fields,
    receptive_field_size,
    receptive_fields,
)


# ----- receptive fields ------------------------------------------------------------------------
def test_stacked_3x3_convolutions_grow_by_two():
    """The lecture: 3, 5, 7, ... = 1 + 2L after L layers of 3x3, stride 1."""
    fields = receptive_fields([3] * 5)
    assert [field.size for field in fields[1:]] == [(3, 3), (5, 5), (7, 7), (9, 9), (11, 11)]
    assert all(field.jump == (1, 1) for field in fields)


@pytest.mark.parametrize("dilation, span", [(1, 3), (2, 5), (4, 9)])
def test_dilated_3x3_kernel_spans_d_times_2_plus_1(dilation, span):
    assert receptive_field_size([{"kernel_size": 3, "dilation_rate": dilation}]) == (span, span)


def test_dilations_1_2_4_stacked_see_15_pixels():
    # WaveNet / context-module arithmetic: 1 + 2 * (1 + 2 + 4) = 15 with 3 layers of 9 weights.
    sizes = [field.size for field in receptive_fields([{"kernel_size": 3, "dilation_rate": d} for d in (1, 2, 4)])]
    assert sizes[1:] == [(3, 3), (7, 7), (15, 15)]


def test_lenet_by_hand():
    """conv5 -> pool2 -> conv5 -> pool2 on 28x28, worked by hand with the recurrence."""
    specs = [
        {"kernel_size": 5, "name": "conv1"},
        {"pool_size": 2, "name": "pool1"},
        {"kernel_size": 5, "name": "conv2"},
        {"pool_size": 2, "name": "pool2"},
    ]
    fields = receptive_fields(specs, input_size=(28, 28))
    assert [field.output_size for field in fields] == [(28, 28), (24, 24), (12, 12), (8, 8), (4, 4)]
    assert [field.size[0] for field in fields] == [1, 5, 6, 14, 16]
    assert [field.jump[0] for field in fields] == [1, 1, 2, 2, 4]
    assert [field.start[0] for field in fields] == [0, 2, 2.5, 6.5, 7.5]


def test_strided_same_padding_needs_the_input_size_for_the_start():
    specs = [{"kernel_size": 3, "strides": 2, "padding": "same"}] * 2
    unknown = receptive_fields(specs)
    assert unknown[-1].size == (7, 7) and unknown[-1].jump == (4, 4)
    assert unknown[-1].start is None and unknown[-1].output_size is None
    # 28 -> 14 (pads 0 before, 1 after: TensorFlow's rule) -> 7; first centre at 1, then 1 + 1 * 2.
    known = receptive_fields(specs, input_size=28)
    assert [field.output_size for field in known] == [(28,), (14,), (7,)]
    assert [field.start for field in known] == [(0,), (1,), (3,)]


def test_explicit_padding_moves_the_start_back():
    fields = receptive_fields([{"kernel_size": 3, "padding": 1}, {"kernel_size": 3, "padding": ((2, 0), (0, 0))}])
    assert fields[1].start == (0, 0) and fields[2].start == (-1, 1)


def test_format_table():
    text = format_receptive_fields(receptive_fields([3, {"kernel_size": 3, "dilation_rate": 2}], input_size=(9, 9)))
    assert text.splitlines() == [
        "layer    output  receptive field  jump  start",
        "input    9x9     1x1              1x1   0x0",
        "layer_0  7x7     3x3              1x1   1x1",
        "layer_1  3x3     7x7              1x1   3x3",
    ]


@pytest.mark.parametrize(
    "specs, error, message",
    [
        ("3x3", TypeError, "model or a list"),
        ([{"kernel": 3}], ValueError, r"unknown keys \['kernel'\]"),
        ([{"strides": 2}], ValueError, "needs a `kernel_size`"),
        ([0], ValueError, "kernel_size=0"),
        ([{"kernel_size": 3, "padding": "full"}], ValueError, "padding='full'"),
        ([{"kernel_size": 3, "strides": "two"}], TypeError, "strides='two'"),
        (["conv"], TypeError, "layer 0 = 'conv'"),
    ],
)
def test_receptive_field_errors(specs, error, message):
    with pytest.raises(error, match=message):
        receptive_fields(specs)


# ----- receptive fields of real layers ----------------------------------------------------------
def test_receptive_fields_of_a_model_use_its_layers_and_input_shape():
    from cnnkit.zoo import lenet5

    fields = receptive_fields(lenet5())
    assert [field.size for field in fields[:5]] == [(1, 1), (5, 5), (6, 6), (14, 14), (16, 16)]
    assert fields[0].output_size == (28, 28) and fields[4].output_size == (4, 4)
    assert fields[5].is_global and fields[5].size == (28, 28)  # Flatten: every feature sees everything
    assert fields[-1].is_global


def test_receptive_fields_of_layer_objects():
    from cnnkit.layers import Activation, Conv2D, Conv2DTranspose, MaxPooling2D, ZeroPadding2D

    layers = [ZeroPadding2D(1), Conv2D(4, 3, dilation_rate=2), Activation("relu"), MaxPooling2D(3, strides=2,
              padding="same")]
    fields = receptive_fields(layers, input_size=(12, 12, 3))
    assert [field.size for field in fields] == [(1, 1), (1, 1), (5, 5), (5, 5), (7, 7)]
    assert [field.output_size for field in fields] == [(12, 12), (14, 14), (10, 10), (10, 10), (5, 5)]
    assert fields[1].start == (-1, -1) and fields[2].start == (1, 1) and fields[4].start == (2, 2)
    channels_first = [Conv2D(8, 3, data_format="channels_first"), MaxPooling2D(2, data_format="channels_first")]
    field = receptive_fields(channels_first, input_size=(4, 10, 10))[-1]
    assert field.output_size == (4, 4) and field.size == (4, 4) and field.start == (1.5, 1.5)
    with pytest.raises(ValueError, match="transposed convolutions"):
        receptive_fields([Conv2DTranspose(3, 2, strides=2)])


# ----- counting --------------------------------------------------------------------------------
def test_lenet_counts_by_hand():
    from cnnkit.zoo import lenet5

    counts = count_layers(lenet5())
    assert [count.params for count in counts] == [156, 0, 2416, 0, 0, 30840, 10164, 850]
    # MACs: 24*24*6 outputs x 25 taps; 8*8*16 x 5*5*6; then dense in x out.
    assert [count.macs for count in counts] == [86400, 0, 153600, 0, 0, 30720, 10080, 840]
    # FLOPs: 2 per MAC + one bias add per output; pooling: 4 reads per output.
    assert counts[0].flops == 2 * 86400 + 3456 and counts[1].flops == 12 * 12 * 6 * 4
    assert sum(count.params for count in counts) == 44426
    assert counts[0].output_shape == (24, 24, 6)
    assert format_counts(counts).splitlines()[-1].split() == ["total", "44,426", "281,640", "572,454"]


def test_counts_of_grouped_depthwise_separable_transposed_and_others():
    from cnnkit.layers import (
        BatchNormalization,
        Conv2D,
        Conv2DTranspose,
        Dense,
        DepthwiseConv2D,
        GlobalAveragePooling2D,
        MaxPooling2D,
        SeparableConv2D,
    )

    layers = [Conv2D(8, 3, padding="same", groups=2), DepthwiseConv2D(3, depth_multiplier=2), SeparableConv2D(4, 3),
              Conv2DTranspose(3, 2, strides=2), BatchNormalization(), GlobalAveragePooling2D(), Dense(5)]
    counts = count_layers(layers, input_shape=(10, 10, 4))
    assert [count.output_shape for count in counts] == [(10, 10, 8), (8, 8, 16), (6, 6, 4), (12, 12, 3),
                                                         (12, 12, 3), (3,), (5,)]
    assert [count.params for count in counts] == [3 * 3 * 2 * 8 + 8, 3 * 3 * 8 * 2 + 16, 3 * 3 * 16 + 16 * 4 + 4,
                                                  2 * 2 * 3 * 4 + 3, 4 * 3, 0, 3 * 5 + 5]
    assert [count.macs for count in counts] == [
        10 * 10 * 8 * 9 * 2,             # groups=2: each output sees 4 / 2 input channels
        8 * 8 * 16 * 9,                  # depthwise: one input channel per output
        6 * 6 * 16 * 9 + 6 * 6 * 16 * 4,  # separable: depthwise then pointwise
        6 * 6 * 4 * 4 * 3,               # transposed: every input element x kernel taps x filters
        0, 0, 3 * 5,
    ]
    assert counts[4].non_trainable_params == 6 and counts[4].trainable_params == 6  # moving mean / variance
    assert counts[4].flops == 2 * 12 * 12 * 3 and counts[5].flops == 12 * 12 * 3
    channels_first = count_layers([Conv2D(8, 3, data_format="channels_first"),
                                   MaxPooling2D(2, data_format="channels_first")], input_shape=(4, 10, 10))
    assert channels_first[0].macs == 8 * 8 * 8 * 9 * 4 and channels_first[1].flops == 8 * 4 * 4 * 4


def test_counting_errors():
    from cnnkit.layers import Conv2D

    with pytest.raises(ValueError, match="input shape is unknown"):
        count_layers([Conv2D(4, 3)])
    with pytest.raises(TypeError, match="model with `.layers`"):
        count_layers("lenet")
