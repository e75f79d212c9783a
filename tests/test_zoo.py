"""cnnkit.zoo: LeNet-5 as the lecture writes it (seed-examples section 5) and AlexNet vs PyTorch."""
import numpy as np
import pytest

from cnnkit.zoo import alexnet, lenet5


def _output_shapes(model):
    shape = model.input_shape
    shapes = []
    for layer in model.layers:
        shape = layer.compute_output_shape(shape)
        shapes.append(tuple(shape))
    return shapes


def test_lenet5_on_28x28_has_the_lectures_44426_parameters():
    model = lenet5()
    assert [layer.count_params() for layer in model.layers] == [156, 0, 2416, 0, 0, 30840, 10164, 850]
    assert model.count_params() == 44426
    assert _output_shapes(model) == [
        (None, 24, 24, 6), (None, 12, 12, 6), (None, 8, 8, 16), (None, 4, 4, 16),
        (None, 256), (None, 120), (None, 84), (None, 10),
    ]
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Conv2D", "AveragePooling2D", "Conv2D", "AveragePooling2D", "Flatten", "Dense", "Dense", "Dense"]
    configs = [layer.get_config() for layer in model.layers]
    assert [config.get("activation") for config in configs] == ["tanh", None, "tanh", None, None, "tanh", "tanh", "softmax"]
    assert configs[1]["pool_size"] == (2, 2) and configs[1]["strides"] == (2, 2)


def test_lenet5_on_32x32_has_61706_parameters_and_400_features():
    model = lenet5(input_shape=(32, 32, 1))
    assert model.count_params() == 61706
    assert _output_shapes(model)[4] == (None, 400)


def test_lenet5_variants_and_errors():
    model = lenet5(activation="relu", pooling="max", num_classes=5)
    assert type(model.layers[1]).__name__ == "MaxPooling2D"
    assert model.layers[0].get_config()["activation"] == "relu"
    assert model.output_shape == (None, 5)
    with pytest.raises(ValueError, match="pooling='median'"):
        lenet5(pooling="median")


def test_lenet5_predicts_probabilities():
    model = lenet5()
    probabilities = np.asarray(model.predict(np.zeros((3, 28, 28, 1), dtype=np.float32), verbose=0))
    assert probabilities.shape == (3, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def cnnkit_alexnet():
    return alexnet()


def test_alexnet_matches_the_same_architecture_in_torch(cnnkit_alexnet):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with torch.device("meta"):  # shapes and counts only: no memory, no arithmetic
        reference = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000), nn.Softmax(dim=1),
        )
        torch_shapes = []
        x = torch.empty(1, 3, 227, 227)
        for module in reference:
            x = module(x)
            if not isinstance(module, (nn.ReLU, nn.Dropout, nn.Softmax)):
                torch_shapes.append(tuple(x.shape[1:]))
    torch_params = sum(parameter.numel() for parameter in reference.parameters())
    assert cnnkit_alexnet.count_params() == torch_params == 62_378_344

    without_dropout = [shape for layer, shape in zip(cnnkit_alexnet.layers, _output_shapes(cnnkit_alexnet))
                       if type(layer).__name__ != "Dropout"]
    channels_first = [(shape[3], shape[1], shape[2]) if len(shape) == 4 else shape[1:] for shape in without_dropout]
    assert channels_first == torch_shapes
    # Per-layer parameter counts in the same order (torch's weights + biases per module).
    torch_counts = [sum(p.numel() for p in module.parameters()) for module in reference
                    if isinstance(module, (nn.Conv2d, nn.Linear))]
    cnnkit_counts = [layer.count_params() for layer in cnnkit_alexnet.layers if layer.count_params()]
    assert cnnkit_counts == torch_counts


def test_alexnet_keeps_the_papers_map_sizes(cnnkit_alexnet):
    shapes = _output_shapes(cnnkit_alexnet)
    assert shapes[0] == (None, 55, 55, 96) and shapes[1] == (None, 27, 27, 96)
    assert shapes[3] == (None, 13, 13, 256) and shapes[7] == (None, 6, 6, 256) and shapes[8] == (None, 9216)
    assert cnnkit_alexnet.output_shape == (None, 1000)
    small = alexnet(input_shape=(67, 67, 3), num_classes=10)
    assert small.output_shape == (None, 10)


def test_lenet5_trains_exactly_like_the_same_model_in_torch_float64():
    """Forward, backward and Keras's Adam rule: cnnkit's LeNet-5 and a torch copy, float64, 4 steps."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    import cnnkit
    from cnnkit import optimizers
    from cnnkit import random as cnnkit_random
    from cnnkit.datasets import mnist

    (x_train, y_train), _ = mnist.load_data()
    x = (x_train[:256, :, :, None] / 255.0).astype(np.float64)
    y = y_train[:256].astype(np.int64)
    previous = cnnkit.floatx()
    cnnkit.set_floatx("float64")
    try:
        cnnkit_random.set_seed(0)
        model = lenet5()
        initial = model.get_weights()
        model.compile(optimizer=optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        trained = model.get_weights()
    finally:
        cnnkit.set_floatx(previous)
    assert trained[0].dtype == np.float64

    reference = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    ).double()

    def to_torch(weights):  # Keras layouts -> torch layouts; Flatten order (h, w, c) -> (c, h, w)
        dense = weights[4].reshape(4, 4, 16, 120).transpose(2, 0, 1, 3).reshape(256, 120)
        return [weights[0].transpose(3, 2, 0, 1), weights[1], weights[2].transpose(3, 2, 0, 1), weights[3],
                dense.T, weights[5], weights[6].T, weights[7], weights[8].T, weights[9]]

    parameters = list(reference.parameters())
    with torch.no_grad():
        for parameter, value in zip(parameters, to_torch(initial)):
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    # Keras's Adam: step size lr * sqrt(1 - b2^t) / (1 - b1^t), epsilon added to sqrt(v) (not PyTorch's rule).
    first = [torch.zeros_like(parameter) for parameter in parameters]
    second = [torch.zeros_like(parameter) for parameter in parameters]
    inputs = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    for step in range(4):
        loss = nn.functional.cross_entropy(reference(inputs[step * 64:(step + 1) * 64]),
                                           torch.from_numpy(y[step * 64:(step + 1) * 64]))
        gradients = torch.autograd.grad(loss, parameters)
        size = 3e-3 * (1 - 0.999 ** (step + 1)) ** 0.5 / (1 - 0.9 ** (step + 1))
        with torch.no_grad():
            for parameter, gradient, m, v in zip(parameters, gradients, first, second):
                m.mul_(0.9).add_(gradient, alpha=0.1)
                v.mul_(0.999).add_(gradient * gradient, alpha=0.001)
                parameter.sub_(size * m / (v.sqrt() + 1e-7))
    for ours, theirs, before in zip(to_torch(trained), parameters, to_torch(initial)):
        assert np.abs(ours - before).max() > 1e-3  # every weight really moved
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)
