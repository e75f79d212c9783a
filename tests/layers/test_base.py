"""The Layer base class and Variable: life cycle, weights, trainability, losses, errors."""
import json

import numpy as np
import pytest

from cnnkit import Tensor, constraints, regularizers
from cnnkit.layers import Conv2D, Dense, InputSpec, Layer, clear_session
from cnnkit.variables import Variable


class Scale(Layer):
    """A small custom layer: one weight per feature."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="factor")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="offset", trainable=False)

    def call(self, inputs):
        return inputs * self.factor + self.offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class WithTraining(Layer):
    def call(self, inputs, training=False):
        return inputs * (2.0 if training else 1.0)


# ----- Variable ------------------------------------------------------------------------------
def test_variable_assign_in_place_and_checks_shape():
    variable = Variable(np.zeros((2, 3), dtype="float32"), name="kernel", path="dense/kernel")
    array_before = variable.data
    variable.assign(np.ones((2, 3)))
    assert variable.data is array_before and variable.data.dtype == np.float32
    np.testing.assert_array_equal(variable.numpy(), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*dense/kernel.*\(2, 3\)"):
        variable.assign(np.ones((3, 2)))
    variable.assign_add(np.ones((2, 3)))
    variable.assign_sub(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(variable.numpy(), np.full((2, 3), 1.5))


def test_variable_copies_its_initial_value_and_numpy_returns_a_copy():
    source = np.zeros(3, dtype="float32")
    variable = Variable(source)
    variable.assign(np.ones(3))
    assert source.sum() == 0
    snapshot = variable.numpy()
    variable.assign(np.full(3, 5.0))
    assert snapshot.sum() == 3


def test_variable_trainable_is_requires_grad_and_gets_gradients():
    variable = Variable(np.array([1.0, 2.0], dtype="float32"))
    assert variable.trainable and variable.requires_grad and variable.path is None
    (variable * variable).sum().backward()
    np.testing.assert_array_equal(variable.grad, [2.0, 4.0])
    variable.trainable = False
    assert not variable.requires_grad
    with pytest.raises(ValueError, match="trainable"):
        variable.trainable = "yes"


def test_variable_from_initializer_needs_shape_and_applies_constraint():
    from cnnkit.initializers import Ones

    with pytest.raises(ValueError, match="shape"):
        Variable(Ones())
    variable = Variable(Ones(), shape=(2,), constraint=constraints.NonNeg())
    assert variable.dtype == np.float32
    variable.assign(np.array([-1.0, 2.0]))
    variable.apply_constraint()
    np.testing.assert_array_equal(variable.numpy(), [0.0, 2.0])


# ----- Layer life cycle ------------------------------------------------------------------------
def test_layer_builds_on_first_call_with_none_batch_and_tracks_weights():
    layer = Scale()
    assert not layer.built
    output = layer(np.ones((4, 3), dtype="float32"))
    assert layer.built and layer.get_build_config() == {"input_shape": [None, 3]}
    assert output.shape == (4, 3)
    assert [w.name for w in layer.weights] == ["factor", "offset"]
    assert [w.path for w in layer.weights] == [f"{layer.name}/factor", f"{layer.name}/offset"]
    assert [w.name for w in layer.trainable_weights] == ["factor"]
    assert [w.name for w in layer.non_trainable_weights] == ["offset"]
    assert layer.count_params() == 6


def test_build_can_be_called_directly_and_marks_built():
    layer = Scale()
    layer.build((None, 5))
    assert layer.built and layer.count_params() == 10


def test_unique_names_and_clear_session():
    clear_session()
    assert Conv2D(1, 1).name == "conv2d"
    assert Conv2D(1, 1).name == "conv2d_1"
    assert Dense(1).name == "dense"
    clear_session()
    assert Conv2D(1, 1).name == "conv2d"
    assert Scale(name="mine").name == "mine"
    Dense(1, name="dense_1")  # e.g. from a loaded model's config: automatic names step over it
    assert [Dense(1).name, Dense(1).name] == ["dense", "dense_2"]


@pytest.mark.parametrize("name", ["a/b", "", 3])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="name"):
        Scale(name=name)


def test_unknown_keyword_argument_is_a_type_error():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense: {'unit': 3}"):
        Dense(3, unit=3)


def test_trainable_must_be_bool():
    with pytest.raises(ValueError, match="Received: trainable=1"):
        Scale(trainable=1)


def test_input_shape_and_input_dim_are_stored_without_batch_axis():
    assert Dense(3, input_shape=(4,))._input_shape_arg == (4,)
    assert Dense(3, input_dim=4)._input_shape_arg == (4,)
    assert Conv2D(6, 5, input_shape=[28, 28, 1])._input_shape_arg == (28, 28, 1)
    assert Dense(3)._input_shape_arg is None
    with pytest.raises(TypeError, match="input_shape"):
        Dense(3, input_shape=28)
    with pytest.raises(TypeError, match="input_shape"):
        Dense(3, input_shape=(28.0,))


def test_training_flag_reaches_call_and_defaults_to_false():
    layer = WithTraining()
    x = np.ones((1, 2), dtype="float32")
    assert layer(x).numpy().sum() == 2.0
    assert layer(x, training=True).numpy().sum() == 4.0


def test_inputs_are_cast_to_the_layer_dtype():
    layer = Scale()
    assert layer(np.ones((2, 3), dtype="float64")).dtype == np.float32
    assert layer(np.ones((2, 3), dtype="uint8")).dtype == np.float32
    layer64 = Scale(dtype="float64")
    assert layer64(np.ones((2, 3), dtype="float32")).dtype == np.float64
    assert layer64.weights[0].dtype == np.float64


def test_float64_cast_keeps_the_gradient_flowing():
    layer = Scale()
    x = Tensor(np.ones((2, 3)), requires_grad=True)  # float64 input, float32 layer
    layer(x).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64


def test_bad_dtype_is_refused():
    with pytest.raises(ValueError, match="mixed precision"):
        Scale(dtype="mixed_float16")
    with pytest.raises(ValueError, match="dtype"):
        Scale(dtype="not-a-dtype")


# ----- weights API --------------------------------------------------------------------------------
def test_set_weights_checks_count_and_shapes_with_clear_messages():
    layer = Dense(2)
    with pytest.raises(ValueError, match="not built"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(2)])
    layer.build((None, 3))
    expected = r"length 1, but the layer was expecting 2 weights \(kernel \(3, 2\), bias \(2,\)\)"
    with pytest.raises(ValueError, match=expected):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"'kernel' has shape \(3, 2\).*provided weight shape \(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])
    layer.set_weights([np.ones((3, 2)), np.full(2, 0.5)])
    np.testing.assert_array_equal(layer(np.ones((1, 3), dtype="float32")).numpy(), [[3.5, 3.5]])


def test_failed_set_weights_changes_nothing():
    layer = Dense(2)
    layer.build((None, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError):
        layer.set_weights([np.ones((3, 2)), np.ones(3)])
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="isn't built"):
        Dense(3).count_params()


def test_freezing_removes_weights_from_trainable_weights_and_gradients():
    layer = Dense(2)
    layer.build((None, 3))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    x = Tensor(np.ones((1, 3), dtype="float32"), requires_grad=True)
    layer(x).sum().backward()
    assert layer.kernel.grad is None and x.grad is not None
    layer.trainable = True
    assert len(layer.trainable_weights) == 2 and layer.kernel.trainable


def test_frozen_before_build_creates_frozen_weights_that_unfreeze():
    layer = Scale(trainable=False)
    layer.build((None, 2))
    assert layer.trainable_weights == [] and not layer.factor.trainable
    layer.trainable = True
    assert [w.name for w in layer.trainable_weights] == ["factor"]
    assert not layer.offset.trainable  # non-trainable by design stays so


# ----- losses ---------------------------------------------------------------------------------------
def test_weight_regularization_losses_are_computed_on_access():
    layer = Dense(5, kernel_initializer="ones", kernel_regularizer=regularizers.L1(0.01))
    layer.build((None, 5))
    (penalty,) = layer.losses
    assert float(penalty) == pytest.approx(0.25)
    layer.kernel.assign(np.full((5, 5), 2.0))
    assert float(layer.losses[0]) == pytest.approx(0.5)
    penalty = layer.losses[0]
    penalty.backward()
    np.testing.assert_allclose(layer.kernel.grad, np.full((5, 5), 0.01), rtol=1e-6)
    layer.trainable = False
    assert layer.losses == []


def test_activity_regularizer_is_divided_by_batch_size_as_keras():
    # Keras's own docstring example: kernel L1 term 0.25, activity L2 term 5.0 after dividing by 5.
    layer = Dense(5, input_dim=5, kernel_initializer="ones", kernel_regularizer=regularizers.L1(0.01),
                  activity_regularizer=regularizers.L2(0.01))
    layer(np.full((5, 5), 2.0, dtype="float32"))
    assert sum(float(loss) for loss in layer.losses) == pytest.approx(5.25, rel=1e-6)
    layer(np.full((5, 5), 2.0, dtype="float32"))
    assert len(layer.losses) == 2  # the activity penalty is replaced, not accumulated


# ----- input checks -------------------------------------------------------------------------------
def test_input_spec_messages_name_expected_and_received_shapes():
    spec = InputSpec(ndim=4, axes={-1: 3}, description="(batch, height, width, channels)")
    expected = r"expected ndim=4 \(batch, height, width, channels\), found ndim=3.*\(28, 28, 3\).*x\[None\]"
    with pytest.raises(ValueError, match=expected):
        spec.check((28, 28, 3), "conv2d")
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape.*value 3.*\(None, 28, 28, 1\)"):
        spec.check((None, 28, 28, 1), "conv2d")
    spec.check((None, 28, 28, 3), "conv2d")
    with pytest.raises(ValueError, match="min_ndim=2"):
        InputSpec(min_ndim=2).check((3,), "dense")


def test_wrong_input_to_a_built_layer_names_expected_and_received_shapes():
    layer = Conv2D(4, 3)
    layer(np.zeros((1, 8, 8, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"conv2d.*expected axis -1 of input shape.*value 3.*\(1, 8, 8, 1\)"):
        layer(np.zeros((1, 8, 8, 1), dtype="float32"))
    with pytest.raises(ValueError, match=r"expected ndim=4.*found ndim=3.*\(8, 8, 3\)"):
        layer(np.zeros((8, 8, 3), dtype="float32"))


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="input"):
        Scale()(np.array([["a", "b"]]))


def test_config_round_trip_of_a_custom_layer_is_json():
    layer = Scale(name="scale_custom", trainable=False, dtype="float64")
    config = layer.get_config()
    assert config == {"name": "scale_custom", "trainable": False, "dtype": "float64"}
    rebuilt = Scale.from_config(json.loads(json.dumps(config)))
    assert rebuilt.name == "scale_custom" and not rebuilt.trainable and rebuilt.dtype == "float64"
    with pytest.raises(TypeError, match="dict"):
        Scale.from_config([("name", "x")])
