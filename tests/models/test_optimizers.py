"""Optimizers step by step against torch.optim, and against NumPy transcriptions of Keras 3's
documented rules where PyTorch's rule differs (epsilon placement in Adam and RMSprop).

Each case feeds the same sequence of gradients to both sides, for two variables of different
shapes, and compares the variables after every step (float32, rel 1e-5). The NumPy references
below are written from Keras's docstrings and update rules in float64, independently of
cnnkit's implementation.
"""
import math
import warnings

import numpy as np
import pytest
import torch

from cnnkit import optimizers
from cnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, schedules
from cnnkit.variables import Variable

SHAPES = [(3, 4), (4,)]
STEPS = 6


def make_case(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]
    gradients = [[rng.standard_normal(shape).astype(np.float32) for shape in SHAPES] for _ in range(steps)]
    return initial, gradients


def run_cnnkit(optimizer, initial, gradients):
    variables = [Variable(array) for array in initial]
    history = []
    for step_gradients in gradients:
        optimizer.apply([g.copy() for g in step_gradients], variables)
        history.append([v.numpy() for v in variables])
    return history


def run_torch(make_optimizer, initial, gradients, clip=None):
    parameters = [torch.nn.Parameter(torch.tensor(array)) for array in initial]
    optimizer = make_optimizer(parameters)
    history = []
    for step_gradients in gradients:
        for parameter, gradient in zip(parameters, step_gradients):
            parameter.grad = torch.tensor(gradient)
        if clip is not None:
            clip(parameters)
        optimizer.step()
        history.append([p.detach().numpy().copy() for p in parameters])
    return history


def assert_histories_close(ours, theirs, rtol=1e-5, atol=1e-7):
    for step, (our_step, their_step) in enumerate(zip(ours, theirs)):
        for our, their in zip(our_step, their_step):
            assert our.dtype == np.float32
            np.testing.assert_allclose(our, their, rtol=rtol, atol=atol, err_msg=f"step {step}")


# ----- against torch.optim ------------------------------------------------------------------
TORCH_CASES = {
    "sgd": (lambda: SGD(learning_rate=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd_momentum": (lambda: SGD(learning_rate=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": (
        lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    # With epsilon 0 Keras's and PyTorch's Adam rules coincide (they differ only in where epsilon goes).
    "adam_eps0": (lambda: Adam(learning_rate=0.01, epsilon=0.0), lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0)),
    "adam_amsgrad_eps0": (
        lambda: Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=0.0, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=0.0, amsgrad=True),
    ),
    "adamw_eps0": (
        lambda: AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=0.0),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0),
    ),
    "rmsprop_eps0": (lambda: RMSprop(learning_rate=0.01, epsilon=0.0), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0)),
    "rmsprop_momentum_centered_eps0": (
        lambda: RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, epsilon=0.0),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, momentum=0.5, centered=True, eps=0.0),
    ),
    "adagrad_eps0": (
        lambda: Adagrad(learning_rate=0.1, epsilon=0.0),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0),
    ),
    "sgd_clipvalue": (
        lambda: SGD(learning_rate=0.1, clipvalue=0.5),
        lambda p: torch.optim.SGD(p, lr=0.1),
    ),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch_step_by_step(case):
    make_ours, make_theirs = TORCH_CASES[case]
    initial, gradients = make_case(seed=len(case))
    clip = (lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5)) if case == "sgd_clipvalue" else None
    assert_histories_close(run_cnnkit(make_ours(), initial, gradients), run_torch(make_theirs, initial, gradients, clip))


def test_global_clipnorm_matches_torch_clip_grad_norm():
    initial, gradients = make_case(seed=3)
    ours = run_cnnkit(SGD(learning_rate=0.1, global_clipnorm=1.0), initial, gradients)
    # torch adds 1e-6 to the norm; with norms of about 4 that is a 2.5e-7 relative difference.
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.1), initial, gradients,
                       clip=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0))
    assert_histories_close(ours, theirs, rtol=2e-6)


# ----- against NumPy transcriptions of Keras's rules ------------------------------------------
def keras_adam(initial, gradients, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None):
    """Keras 3 Adam(W), float64: alpha = lr*sqrt(1-b2^t)/(1-b1^t); w -= alpha*m/(sqrt(v)+eps)."""
    weights = [w.astype(np.float64) for w in initial]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    history = []
    for t, step_gradients in enumerate(gradients, start=1):
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(step_gradients):
            if weight_decay is not None:
                weights[i] = weights[i] - weights[i] * weight_decay * lr
            m[i] = m[i] + (g - m[i]) * (1 - beta_1)
            v[i] = v[i] + (g * g - v[i]) * (1 - beta_2)
            weights[i] = weights[i] - alpha * m[i] / (np.sqrt(v[i]) + epsilon)
        history.append([w.copy() for w in weights])
    return history


def keras_rmsprop(initial, gradients, lr=0.001, rho=0.9, epsilon=1e-7):
    """Keras 3 RMSprop, float64: v = rho v + (1-rho) g^2; w -= lr g / sqrt(v + eps)."""
    weights = [w.astype(np.float64) for w in initial]
    v = [np.zeros_like(w) for w in weights]
    history = []
    for step_gradients in gradients:
        for i, g in enumerate(step_gradients):
            v[i] = rho * v[i] + (1 - rho) * g * g
            weights[i] = weights[i] - lr * g / np.sqrt(v[i] + epsilon)
        history.append([w.copy() for w in weights])
    return history


def keras_adagrad(initial, gradients, lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    weights = [w.astype(np.float64) for w in initial]
    accumulators = [np.full_like(w, initial_accumulator_value) for w in weights]
    history = []
    for step_gradients in gradients:
        for i, g in enumerate(step_gradients):
            accumulators[i] = accumulators[i] + g * g
            weights[i] = weights[i] - lr * g / np.sqrt(accumulators[i] + epsilon)
        history.append([w.copy() for w in weights])
    return history


def keras_sgd(initial, gradients, learning_rates, clipnorm=None, weight_decay=None):
    """Plain SGD with Keras's per-variable clipnorm and base-class weight decay, float64."""
    weights = [w.astype(np.float64) for w in initial]
    history = []
    for lr, step_gradients in zip(learning_rates, gradients):
        for i, g in enumerate(step_gradients):
            g = g.astype(np.float64)
            if clipnorm is not None:
                g = g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm)
            if weight_decay is not None:
                weights[i] = weights[i] - weights[i] * weight_decay * lr
            weights[i] = weights[i] - lr * g
        history.append([w.copy() for w in weights])
    return history


def small_gradients(seed, scale):
    """Gradients small enough that epsilon matters (where Keras and PyTorch differ)."""
    initial, gradients = make_case(seed)
    return initial, [[g * scale for g in step] for step in gradients]


def test_adam_default_epsilon_follows_keras_rule():
    initial, gradients = small_gradients(10, 1e-5)
    ours = run_cnnkit(Adam(learning_rate=0.01), initial, gradients)
    assert_histories_close(ours, keras_adam(initial, gradients, lr=0.01))


def test_adam_epsilon_differs_from_torch_where_keras_does():
    """Guard: with tiny gradients Keras's epsilon-hat gives a visibly different step than torch's."""
    initial, gradients = small_gradients(11, 1e-7)
    ours = run_cnnkit(Adam(learning_rate=0.01), initial, gradients)
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7), initial, gradients)
    assert not np.allclose(ours[-1][0], theirs[-1][0], rtol=1e-4)


def test_adamw_default_follows_keras_rule():
    initial, gradients = make_case(12)
    ours = run_cnnkit(AdamW(learning_rate=0.01), initial, gradients)
    assert_histories_close(ours, keras_adam(initial, gradients, lr=0.01, weight_decay=0.004))


def test_rmsprop_default_epsilon_inside_root():
    initial, gradients = small_gradients(13, 1e-4)
    ours = run_cnnkit(RMSprop(learning_rate=0.01), initial, gradients)
    assert_histories_close(ours, keras_rmsprop(initial, gradients, lr=0.01))


def test_adagrad_defaults_follow_keras_rule():
    initial, gradients = make_case(14)
    ours = run_cnnkit(Adagrad(), initial, gradients)
    assert_histories_close(ours, keras_adagrad(initial, gradients))


def test_clipnorm_clips_each_variable_separately():
    initial, gradients = make_case(15)
    ours = run_cnnkit(SGD(learning_rate=0.1, clipnorm=1.5), initial, gradients)
    assert_histories_close(ours, keras_sgd(initial, gradients, [0.1] * STEPS, clipnorm=1.5))


def test_weight_decay_on_any_optimizer_uses_current_learning_rate():
    initial, gradients = make_case(16)
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    ours = run_cnnkit(SGD(learning_rate=schedule, weight_decay=0.05), initial, gradients)
    rates = [0.1 * 0.5 ** (t / 2) for t in range(STEPS)]
    assert_histories_close(ours, keras_sgd(initial, gradients, rates, weight_decay=0.05))


def test_exclude_from_weight_decay_by_name():
    weight = Variable(np.ones(3, dtype=np.float32), name="kernel")
    bias = Variable(np.ones(3, dtype=np.float32), name="bias")
    optimizer = AdamW(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    zero = np.zeros(3, dtype=np.float32)
    optimizer.apply([zero, zero], [weight, bias])  # Adam step is 0 for a zero gradient
    np.testing.assert_allclose(weight.numpy(), 1 - 0.5 * 0.1, rtol=1e-6)
    np.testing.assert_array_equal(bias.numpy(), 1.0)


# ----- schedules ------------------------------------------------------------------------------
def test_cosine_decay_matches_torch_cosine_annealing():
    steps, initial_rate, alpha = 20, 0.1, 0.1
    ours = schedules.CosineDecay(initial_rate, decay_steps=steps, alpha=alpha)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=initial_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=alpha * initial_rate)
    for step in range(steps + 1):
        assert ours(step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        optimizer.step()
        scheduler.step()
    assert ours(steps + 50) == pytest.approx(alpha * initial_rate)  # clamped after decay_steps


def test_cosine_decay_warmup_formula():
    schedule = schedules.CosineDecay(0.0, decay_steps=10, alpha=0.0, warmup_target=1.0, warmup_steps=4)
    assert [schedule(s) for s in (0, 1, 2, 4)] == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert schedule(9) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert schedule(100) == pytest.approx(0.0, abs=1e-12)


def test_exponential_decay_matches_torch_exponential_lr_at_staircase():
    ours = schedules.ExponentialDecay(0.2, decay_steps=3, decay_rate=0.7, staircase=True)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.2)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.7)
    for epoch in range(5):
        for step in range(3 * epoch, 3 * epoch + 3):
            assert ours(step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        optimizer.step()
        scheduler.step()
    smooth = schedules.ExponentialDecay(0.2, decay_steps=3, decay_rate=0.7)
    assert smooth(1.5) == pytest.approx(0.2 * 0.7**0.5)


def test_piecewise_constant_boundaries_as_keras_documents():
    schedule = schedules.PiecewiseConstantDecay([100000, 110000], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 100000, 100001, 110000, 110001)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="length of boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5])


def test_optimizer_calls_schedule_with_step_from_zero_and_refuses_assignment():
    rates = []

    class Recording(schedules.LearningRateSchedule):
        def __call__(self, step):
            rates.append(step)
            return 0.1

    optimizer = SGD(learning_rate=Recording())
    variable = Variable(np.zeros(2, dtype=np.float32))
    for _ in range(3):
        optimizer.apply([np.ones(2, dtype=np.float32)], [variable])
    assert rates == [0, 1, 2]
    with pytest.raises(TypeError, match="not settable"):
        optimizer.learning_rate = 0.5
    plain = SGD(learning_rate=0.1)
    plain.learning_rate = 0.02
    assert plain.learning_rate == 0.02


# ----- mechanics ------------------------------------------------------------------------------
def test_variable_without_gradient_is_untouched_and_others_match_the_flat_path():
    initial, gradients = make_case(20, steps=4)
    flat = run_cnnkit(Adam(learning_rate=0.01), initial, gradients)
    variables = [Variable(array) for array in initial]
    optimizer = Adam(learning_rate=0.01)
    for step, step_gradients in enumerate(gradients):
        grads = [g.copy() for g in step_gradients]
        if step == 2:
            grads[1] = None
            before = variables[1].numpy()
            with pytest.warns(UserWarning, match="Gradients do not exist"):
                optimizer.apply(grads, variables)
            np.testing.assert_array_equal(variables[1].numpy(), before)
        else:
            optimizer.apply(grads, variables)
        # Variable 0 always had its gradient: its trajectory is the flat path's, bit for bit.
        np.testing.assert_array_equal(variables[0].numpy(), flat[step][0])


def test_constraint_applied_after_each_update():
    variable = Variable(np.array([0.5, -0.5], dtype=np.float32), constraint=lambda w: np.maximum(w, 0))
    optimizer = SGD(learning_rate=1.0)
    optimizer.apply([np.array([1.0, 1.0], dtype=np.float32)], [variable])
    np.testing.assert_array_equal(variable.numpy(), [0.0, 0.0])


def test_float32_stays_float32_and_float64_variables_work_alongside():
    optimizer = Adam(learning_rate=0.1)
    single = Variable(np.ones(3, dtype=np.float32))
    double = Variable(np.ones(2, dtype=np.float64))
    optimizer.apply([np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float64)], [single, double])
    assert single.data.dtype == np.float32 and double.data.dtype == np.float64
    assert all(v.dtype in (np.float32, np.float64, np.int64) for v in optimizer.variables)
    root = math.sqrt(0.001)  # first step: m = 0.1, v = 0.001, alpha = 0.1 * sqrt(0.001) / 0.1
    expected = 1 - root * 0.1 / (root + 1e-7)
    np.testing.assert_allclose(single.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(double.numpy(), expected, rtol=1e-12)


def test_update_is_in_place():
    variable = Variable(np.ones((2, 2), dtype=np.float32))
    array = variable.data
    RMSprop().apply([np.ones((2, 2), dtype=np.float32)], [variable])
    assert variable.data is array


def test_state_export_import_resumes_bit_for_bit():
    initial, gradients = make_case(30, steps=6)
    schedule = schedules.CosineDecay(0.05, decay_steps=10)
    reference = run_cnnkit(Adam(learning_rate=schedule, amsgrad=True), initial, gradients)

    variables = [Variable(array) for array in initial]
    first = Adam(learning_rate=schedule, amsgrad=True)
    for step_gradients in gradients[:3]:
        first.apply([g.copy() for g in step_gradients], variables)
    store = {}
    first.save_own_variables(store)
    saved_weights = [v.numpy() for v in variables]

    resumed_variables = [Variable(array) for array in saved_weights]
    second = Adam.from_config(first.get_config())
    second.build(resumed_variables)
    second.load_own_variables(store)
    assert second.iterations == 3
    for step_gradients in gradients[3:]:
        second.apply([g.copy() for g in step_gradients], resumed_variables)
    for ours, theirs in zip(resumed_variables, reference[-1]):
        np.testing.assert_array_equal(ours.numpy(), theirs)


def test_load_own_variables_checks_build_and_shapes():
    optimizer = SGD(momentum=0.9)
    with pytest.raises(ValueError, match="not built"):
        optimizer.load_own_variables({})
    optimizer.build([Variable(np.zeros(3, dtype=np.float32))])
    with pytest.raises(ValueError, match="state arrays"):
        optimizer.load_own_variables({"0": np.array(0)})
    with pytest.raises(ValueError, match="shape"):
        optimizer.load_own_variables({"0": np.array(0), "1": np.array(0.01), "2": np.zeros(4)})


def test_unknown_variable_and_wrong_gradient_shape():
    optimizer = SGD()
    known = Variable(np.zeros(3, dtype=np.float32))
    optimizer.apply([np.zeros(3, dtype=np.float32)], [known])
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply([np.zeros(2, dtype=np.float32)], [Variable(np.zeros(2, dtype=np.float32))])
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        optimizer.apply([np.zeros(2, dtype=np.float32)], [known])


# ----- get, config, arguments ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls, rate",
    [("adam", Adam, 0.001), ("Adam", Adam, 0.001), ("sgd", SGD, 0.01), ("SGD", SGD, 0.01),
     ("rmsprop", RMSprop, 0.001), ("adagrad", Adagrad, 0.001), ("adamw", AdamW, 0.001)],
)
def test_get_by_name_with_keras_defaults(name, cls, rate):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls and optimizer.learning_rate == rate


def test_keras_default_hyperparameters():
    assert (Adam().beta_1, Adam().beta_2, Adam().epsilon) == (0.9, 0.999, 1e-7)
    assert (RMSprop().rho, RMSprop().epsilon, RMSprop().momentum) == (0.9, 1e-7, 0.0)
    assert (Adagrad().initial_accumulator_value, Adagrad().epsilon) == (0.1, 1e-7)
    assert AdamW().weight_decay == 0.004
    assert (SGD().momentum, SGD().nesterov) == (0.0, False)


def test_get_config_round_trip_with_schedule_and_dict_identifier():
    optimizer = RMSprop(learning_rate=schedules.PiecewiseConstantDecay([10], [0.1, 0.01]), momentum=0.5, clipnorm=1.0)
    config = optimizers.serialize(optimizer)
    import json

    rebuilt = optimizers.get(json.loads(json.dumps(config)))
    assert type(rebuilt) is RMSprop and rebuilt.get_config() == optimizer.get_config()
    assert rebuilt.learning_rate == 0.1


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
        (lambda: SGD(momentum=1.5), ValueError, "momentum"),
        (lambda: Adam(learning_rate="fast"), ValueError, "learning_rate"),
        (lambda: Adam(beta_1=1.0), ValueError, "beta_1"),
        (lambda: RMSprop(rho=-0.1), ValueError, "rho"),
        (lambda: Adam(epsilon=-1e-3), ValueError, "epsilon"),
        (lambda: SGD(clipnorm=0.0), ValueError, "clipnorm"),
        (lambda: Adam(learnig_rate=0.1), ValueError, "not recognized"),
        (lambda: AdamW(weight_decay=None), ValueError, "weight_decay"),
        (lambda: optimizers.get("adamax"), ValueError, "adamax"),
        (lambda: optimizers.get({"class_name": "os.system", "config": {}}), ValueError, "os.system"),
        (lambda: optimizers.get(42), ValueError, "42"),
    ],
)
def test_bad_arguments_raise_naming_them(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_schedule_argument_checks():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.9)
    with pytest.raises(ValueError, match="Unknown learning rate schedule"):
        schedules.deserialize({"class_name": "Lambda", "config": {}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schedules.deserialize(schedules.serialize(schedules.CosineDecay(0.1, 5)))
