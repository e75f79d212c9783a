"""The ``cnnkit`` command: train, evaluate, predict, summarise, filter, receptive fields, animate, bench.

::

    cnnkit train lenet [--epochs N] [--batch-size N] [--optimizer NAME] [--learning-rate LR]
                       [--seed N] [--max-shift PX] [--out DIR] [--data FOLDER] [--threads N]
    cnnkit evaluate MODEL [--data FOLDER]
    cnnkit predict MODEL IMAGE [IMAGE ...]
    cnnkit summary lenet|alexnet|MODEL [--input-shape H,W,C] [--counts]
    cnnkit rf lenet|alexnet|MODEL | --kernels K [K ...] [--strides ...] [--dilations ...]
    cnnkit filter sobel|prewitt|gaussian|gabor IMAGE [--out PNG]
    cnnkit animate [--input-size N] [--kernel-size K] [--strides S] [--padding P] [--dilation D] [--out GIF]
    cnnkit bench [ARGS ...]            (the repository's benchmarks against PyTorch)

Each subcommand is a thin layer over the library: ``cnnkit.zoo.lenet.train_lenet5`` trains,
``cnnkit.vision.load_digit`` reads pictures, ``cnnkit.inspect`` and ``cnnkit.viz`` analyse and
draw. Errors a user can fix (a missing file, a bad value) print one line and exit with status 1;
usage errors exit with status 2, as argparse does.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

__all__ = ["main"]

MODEL_FILE_NAME = "lenet5.cnnkit"
CURVES_FILE_NAME = "training_curves.png"
CONFUSION_FILE_NAME = "confusion_matrix.png"
FILTERS_FILE_NAME = "filters.png"
FEATURE_MAPS_FILE_NAME = "feature_maps.png"
BUILTIN_MODELS = ("lenet", "lenet5", "alexnet")


class CommandError(Exception):
    """An error the user can fix; printed as one line, exit status 1."""


# ----- argument types -------------------------------------------------------------------------
def _number_type(convert, is_allowed, expected: str, type_name: str):
    """An argparse ``type=``: ``convert(text)``, refused with "expected <expected>, got '<text>'"
    when the text does not convert or ``is_allowed(value)`` is false."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not is_allowed(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = type_name
    return parse


_positive_int = _number_type(int, lambda value: value >= 1, "a positive integer", "_positive_int")
_non_negative_int = _number_type(int, lambda value: value >= 0, "a non-negative integer", "_non_negative_int")
_positive_float = _number_type(
    float, lambda value: np.isfinite(value) and value > 0, "a positive number", "_positive_float"
)


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(item) for item in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape such as 32,32,1, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected a shape of positive sizes such as 32,32,1, got {text!r}")
    return shape


def _padding(text: str):
    if text in ("valid", "same"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'valid', 'same' or a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 'valid', 'same' or a non-negative integer, got {text!r}")
    return value


# ----- the parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``cnnkit`` command (exposed for documentation and tests)."""
    from .zoo.lenet import TrainingRecipe

    defaults = TrainingRecipe()
    parser = argparse.ArgumentParser(
        prog="cnnkit",
        description="Convolutional neural networks from first principles, on NumPy.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train",
        help="train LeNet-5 on the bundled digits",
        description="Train the lecture's LeNet-5 (tanh, average pooling) on the 8,000 bundled MNIST digits, "
        "report accuracy on the 2,000 held out, and write the model, a training-curve PNG, a "
        "confusion-matrix PNG, the learned first-layer kernels beside hand-made ones (Sobel, Prewitt, Gabor) "
        "and the feature maps of the first held-out digit into --out.",
    )
    train.add_argument("model", choices=("lenet", "lenet5"), help="the model to train")
    train.add_argument("--epochs", type=_positive_int, default=defaults.epochs,
                       help=f"passes over the training digits (default {defaults.epochs})")
    train.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size,
                       help=f"digits per step (default {defaults.batch_size})")
    train.add_argument("--optimizer", default=defaults.optimizer, choices=("adam", "adamw", "sgd", "rmsprop", "adagrad"),
                       help=f"optimizer (default {defaults.optimizer})")
    train.add_argument("--learning-rate", type=_positive_float, default=None,
                       help="initial learning rate (default 0.003 for adam/adamw, 0.05 for sgd with momentum 0.9, "
                       "0.001 otherwise)")
    train.add_argument("--schedule", default=defaults.schedule, choices=("cosine", "constant"),
                       help=f"learning-rate schedule over the run (default {defaults.schedule})")
    train.add_argument("--max-shift", type=_non_negative_int, default=defaults.max_shift,
                       help=f"random shifts of up to this many pixels while training, 0 for none "
                       f"(default {defaults.max_shift})")
    train.add_argument("--seed", type=_non_negative_int, default=defaults.seed,
                       help=f"random seed: the same seed gives the same run (default {defaults.seed})")
    train.add_argument("--out", default=os.path.join("runs", "lenet"),
                       help="folder for the model file and pictures (default runs/lenet)")
    train.add_argument("--data", default=None,
                       help="a folder of the full MNIST IDX files instead of the bundled digits")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar, 2 one line per epoch (default 1)")
    train.add_argument("--threads", type=_positive_int, default=1,
                       help="BLAS threads (default 1: LeNet's matrix products are small, and a second thread "
                       "is slower as soon as anything else runs on the machine)")
    train.add_argument("--limit", type=_positive_int, default=None, help=argparse.SUPPRESS)

    evaluate = commands.add_parser("evaluate", help="accuracy of a saved model on the held-out digits")
    evaluate.add_argument("model_path", metavar="MODEL", help="a model file written by `cnnkit train` or model.save")
    evaluate.add_argument("--data", default=None, help="a folder of the full MNIST IDX files")
    evaluate.add_argument("--batch-size", type=_positive_int, default=256)
    evaluate.add_argument("--limit", type=_positive_int, default=None, help=argparse.SUPPRESS)

    predict = commands.add_parser(
        "predict",
        help="read digits from pictures",
        description="Read the digit in each picture (PNG, JPEG, ...; any size or colour, dark on light or "
        "light on dark): it is prepared as MNIST's were (cropped, fitted into 20x20, centred by mass).",
    )
    predict.add_argument("model_path", metavar="MODEL", help="a model file")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="picture files of single digits")
    predict.add_argument("--top", type=_positive_int, default=3, help="how many likeliest classes to show (default 3)")

    summary = commands.add_parser("summary", help="layers, output shapes and parameter counts of a model")
    summary.add_argument("model", metavar="lenet|alexnet|MODEL", help="a built-in model name or a model file")
    summary.add_argument("--input-shape", type=_shape, default=None, help="input shape of a built-in model, e.g. 32,32,1")
    summary.add_argument("--counts", action="store_true", help="also print multiply-accumulates and FLOPs per layer")

    rf = commands.add_parser(
        "rf",
        help="receptive field of each layer",
        description="Receptive field size, jump (stride product) and start of each layer, for a model or "
        "for a stack of kernels given with --kernels.",
    )
    rf.add_argument("model", nargs="?", metavar="lenet|alexnet|MODEL", help="a built-in model name or a model file")
    rf.add_argument("--kernels", type=_positive_int, nargs="+", help="kernel sizes of a stack of layers, e.g. 3 3 3")
    rf.add_argument("--strides", type=_positive_int, nargs="+", help="one stride per kernel (default 1)")
    rf.add_argument("--dilations", type=_positive_int, nargs="+", help="one dilation per kernel (default 1)")
    rf.add_argument("--input-size", type=_shape, default=None, help="spatial input size, e.g. 28 or 28,28")

    filter_command = commands.add_parser("filter", help="apply a classic vision filter to a picture")
    filter_command.add_argument("name", choices=("sobel", "prewitt", "gaussian", "gabor"))
    filter_command.add_argument("image", metavar="IMAGE", help="a picture file")
    filter_command.add_argument("--out", default=None, help="output PNG (default IMAGE_NAME-FILTER.png)")
    filter_command.add_argument("--sigma", type=_positive_float, default=None, help="Gaussian/Gabor width in pixels")
    filter_command.add_argument("--theta", type=float, default=0.0, help="Gabor orientation in degrees (default 0)")
    filter_command.add_argument("--wavelength", type=_positive_float, default=None, help="Gabor wavelength in pixels")

    animate = commands.add_parser("animate", help="GIF of a kernel sliding over a padded input")
    animate.add_argument("--input-size", type=_positive_int, default=5)
    animate.add_argument("--kernel-size", type=_positive_int, default=3)
    animate.add_argument("--strides", type=_positive_int, default=1)
    animate.add_argument("--padding", type=_padding, default=0, help="'valid', 'same' or zeros per side (default 0)")
    animate.add_argument("--dilation", type=_positive_int, default=1)
    animate.add_argument("--lecture", action="store_true",
                         help="use the lecture's 7x7 image and 3x3 kernel of ones, showing the numbers")
    animate.add_argument("--out", default="convolution.gif", help="output GIF (default convolution.gif)")

    commands.add_parser(
        "bench",
        help="benchmarks against PyTorch (source checkout with torch installed)",
        add_help=False,
        description="Run the repository's benchmarks/run.py; every argument after `bench` is passed on.",
    )
    return parser


# ----- shared helpers -------------------------------------------------------------------------
def _load_model(path: str):
    from .models import load_model

    if not os.path.isfile(path):
        raise CommandError(f"no model file at {path!r} (write one with `cnnkit train lenet`)")
    return load_model(path)


def _builtin_or_file(name: str, input_shape=None):
    from .zoo import alexnet, lenet5

    if name in ("lenet", "lenet5"):
        return lenet5(input_shape=input_shape or (28, 28, 1))
    if name == "alexnet":
        return alexnet(input_shape=input_shape or (227, 227, 3))
    if input_shape is not None:
        raise CommandError("--input-shape applies to the built-in models (lenet, alexnet) only")
    return _load_model(name)


def _model_input_shape(model) -> tuple:
    shape = getattr(model, "input_shape", None)
    if not shape:
        raise CommandError("the model does not declare its input shape")
    return tuple(shape[1:])


def _fit_digits_to_model(images: np.ndarray, model) -> np.ndarray:
    """(N, 28, 28) float images in [0, 1] -> the model's input shape (zero-padded if larger)."""
    from .zoo.lenet import prepare_images

    input_shape = _model_input_shape(model)
    batch = prepare_images(images)
    if len(input_shape) != 3 or input_shape[-1] != 1 or input_shape[0] < 28 or input_shape[1] < 28:
        raise CommandError(
            f"the model expects inputs of shape {input_shape}; digits are 28x28x1 (models for 28x28x1 or "
            "larger one-channel inputs, such as LeNet-5's 32x32x1, can read them)"
        )
    extra_rows, extra_columns = input_shape[0] - 28, input_shape[1] - 28
    if extra_rows or extra_columns:
        pads = ((0, 0), (extra_rows // 2, extra_rows - extra_rows // 2),
                (extra_columns // 2, extra_columns - extra_columns // 2), (0, 0))
        batch = np.pad(batch, pads)
    return batch


# ----- subcommands ----------------------------------------------------------------------------
def _train(args) -> int:
    from .backend import keep_freed_memory, set_num_threads
    from .datasets import mnist
    from .viz import plot_confusion_matrix, plot_feature_maps, plot_history, plot_learned_and_classic_filters
    from .zoo.lenet import TrainingRecipe, prepare_images, train_lenet5

    recipe = TrainingRecipe(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        max_shift=args.max_shift,
        seed=args.seed,
    )
    set_num_threads(args.threads)
    keep_freed_memory()  # activations are freed and allocated again every step: reuse, no page faults
    print(f"Training LeNet-5 (tanh, average pooling) with {recipe.describe()}", flush=True)
    result = train_lenet5(recipe, data_path=args.data, limit=args.limit, verbose=args.verbose)
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, MODEL_FILE_NAME)
    result.model.save(model_path)
    curves_path = plot_history(result.history, os.path.join(args.out, CURVES_FILE_NAME),
                               title=f"LeNet-5, {recipe.describe()}")
    confusion_path = plot_confusion_matrix(result.confusion, os.path.join(args.out, CONFUSION_FILE_NAME))
    _, (x_test, y_test) = mnist.load_data(path=args.data)
    digit = prepare_images(x_test[:1])[0]  # the first held-out digit, (28, 28, 1) in [0, 1]
    filters_path = plot_learned_and_classic_filters(
        result.model, os.path.join(args.out, FILTERS_FILE_NAME), image=digit,
        title=f"Hand-made kernels and the ones LeNet-5 learned, applied to a held-out {int(y_test[0])}",
    )
    maps_path = plot_feature_maps(result.model, digit, os.path.join(args.out, FEATURE_MAPS_FILE_NAME),
                                  title=f"What each layer of LeNet-5 makes of a held-out {int(y_test[0])}")
    print(f"Test accuracy: {100 * result.test_accuracy:.2f}% on {result.test_count} held-out digits "
          f"(loss {result.test_loss:.4f}); trained in {result.seconds:.1f} s")
    print(f"Wrote {model_path}, {curves_path}, {confusion_path}, {filters_path}, {maps_path}")
    return 0


def _evaluate(args) -> int:
    from .datasets import mnist
    from .functional import sparse_categorical_crossentropy
    from .viz import confusion_counts

    model = _load_model(args.model_path)
    _, (x_test, y_test) = mnist.load_data(path=args.data)
    if args.limit:
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    inputs = _fit_digits_to_model(x_test, model)
    probabilities = np.asarray(model.predict(inputs, batch_size=args.batch_size, verbose=0))
    predicted = probabilities.argmax(axis=-1)
    accuracy = float(np.mean(predicted == y_test))
    loss = float(sparse_categorical_crossentropy(y_test.astype(np.int64), probabilities).numpy().mean())
    counts = confusion_counts(y_test, predicted, num_classes=probabilities.shape[-1])
    print(f"{args.model_path}: accuracy {100 * accuracy:.2f}% on {len(y_test)} held-out digits (loss {loss:.4f})")
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=1), 1)
    print("per digit: " + "  ".join(f"{digit}: {100 * value:.1f}%" for digit, value in enumerate(per_class)))
    return 0


def _predict(args) -> int:
    from .vision import load_digit

    model = _load_model(args.model_path)
    digits = np.stack([load_digit(path) for path in args.images])
    probabilities = np.asarray(model.predict(_fit_digits_to_model(digits, model), verbose=0))
    for path, scores in zip(args.images, probabilities):
        order = np.argsort(scores)[::-1][: args.top]
        alternatives = ", ".join(f"{index} {100 * scores[index]:.1f}%" for index in order)
        print(f"{path}: {order[0]}  ({alternatives})")
    return 0


def _summary(args) -> int:
    model = _builtin_or_file(args.model, args.input_shape)
    model.summary()
    if args.counts:
        from .inspect import count_layers, format_counts

        print()
        print(format_counts(count_layers(model)))
    return 0


def _rf(args) -> int:
    from .inspect import format_receptive_fields, receptive_fields

    if args.kernels:
        if args.model:
            raise CommandError("give either a model or --kernels, not both")
        count = len(args.kernels)
        strides = args.strides or [1] * count
        dilations = args.dilations or [1] * count
        if len(strides) != count or len(dilations) != count:
            raise CommandError(
                f"--strides and --dilations need one value per kernel ({count}); got {len(strides)} and {len(dilations)}"
            )
        specs = [{"kernel_size": kernel, "strides": stride, "dilation_rate": dilation, "name": f"conv_{index + 1}"}
                 for index, (kernel, stride, dilation) in enumerate(zip(args.kernels, strides, dilations))]
        input_size = args.input_size
        if input_size is not None and len(input_size) == 1:
            input_size = input_size * 2
        print(format_receptive_fields(receptive_fields(specs, input_size=input_size)))
        return 0
    if not args.model:
        raise CommandError("give a model (lenet, alexnet or a model file) or --kernels K [K ...]")
    if args.strides or args.dilations:
        raise CommandError("--strides and --dilations go with --kernels")
    model = _builtin_or_file(args.model)
    print(format_receptive_fields(receptive_fields(model, input_size=args.input_size)))
    return 0


def _filter(args) -> int:
    from PIL import Image

    from .vision import apply_filter, gabor_kernel, gaussian_blur, gradient_magnitude, load_image

    image = load_image(args.image)
    if args.name in ("sobel", "prewitt"):
        result = gradient_magnitude(image, operator=args.name)
    elif args.name == "gaussian":
        result = gaussian_blur(image, sigma=args.sigma or 2.0)
    else:
        sigma = args.sigma or 3.0
        kernel = gabor_kernel(sigma=sigma, theta=np.deg2rad(args.theta), wavelength=args.wavelength or 2.5 * sigma)
        result = np.abs(apply_filter(image, kernel))
    low, high = float(result.min()), float(result.max())
    scaled = np.zeros_like(result) if high <= low else (result - low) / (high - low)
    out = args.out or f"{os.path.splitext(args.image)[0]}-{args.name}.png"
    folder = os.path.dirname(out)
    if folder:
        os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.round(scaled * 255).astype(np.uint8)).save(out)
    print(f"Wrote {out} ({args.name}, {result.shape[1]}x{result.shape[0]})")
    return 0


_LECTURE_IMAGE = [
    [1, 6, 2, 8, 1, 2, 7],
    [1, 6, 2, 8, 1, 2, 5],
    [0, 5, 8, 1, 5, 7, 1],
    [1, 7, 1, 3, 5, 8, 0],
    [5, 2, 4, 4, 5, 8, 4],
    [8, 2, 3, 7, 3, 8, 2],
    [1, 2, 3, 6, 5, 9, 6],
]


def _animate(args) -> int:
    from .viz import animate_convolution

    image = np.array(_LECTURE_IMAGE, dtype=np.float32) if args.lecture else None
    path = animate_convolution(
        args.out,
        input_size=args.input_size,
        kernel_size=args.kernel_size,
        strides=args.strides,
        padding=args.padding,
        dilation_rate=args.dilation,
        image=image,
    )
    print(f"Wrote {path}")
    return 0


def _repository_root() -> str:
    """The folder above the ``cnnkit`` package: a source checkout's root, where ``benchmarks/`` lives."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench(argv: list) -> int:
    root = _repository_root()
    runner = os.path.join(root, "benchmarks", "run.py")
    if not os.path.isfile(runner):
        raise CommandError(
            f"the benchmarks are not here ({runner} is missing): `cnnkit bench` runs from a source checkout "
            "of cnnkit (git clone, then pip install -e '.[bench]')"
        )
    if importlib.util.find_spec("torch") is None:
        raise CommandError("the benchmarks compare with PyTorch, which is not installed: pip install -e '.[bench]'")
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks import run  # noqa: PLC0415  (the repository's folder, found through sys.path)

    return int(run.main(list(argv)) or 0)


_COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "summary": _summary,
    "rf": _rf,
    "filter": _filter,
    "animate": _animate,
}


def main(argv=None) -> int:
    """Run the ``cnnkit`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["rf", "--kernels", "3", "3", "3"])
        layer   output  receptive field  jump  start
        input   -       1x1              1x1   0x0
        conv_1  -       3x3              1x1   1x1
        conv_2  -       5x5              1x1   2x2
        conv_3  -       7x7              1x1   3x3
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "bench":
            return _bench(argv[1:])
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except CommandError as error:
        command = argv[0] if argv else ""
        print(f"cnnkit {command}: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        command = argv[0] if argv else ""
        print(f"cnnkit {command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
