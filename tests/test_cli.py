"""The `cnnkit` command: summary, rf, train (tiny), evaluate, predict, filter, animate, bench; errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnkit import cli
from cnnkit.datasets import mnist


def run(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny training run (1 epoch on 256 digits) whose files the other tests use."""
    out = tmp_path_factory.mktemp("run")
    status = cli.main(["train", "lenet", "--epochs", "1", "--limit", "256", "--out", str(out), "--verbose", "0",
                       "--seed", "3"])
    assert status == 0
    return out


# ----- summary and receptive fields ------------------------------------------------------------
def test_summary_of_lenet(capsys):
    status, out, _ = run(capsys, "summary", "lenet")
    assert status == 0
    assert "Total params: 44,426" in out
    assert "(None, 24, 24, 6)" in out and "(None, 256)" in out
    status, out, _ = run(capsys, "summary", "lenet", "--input-shape", "32,32,1", "--counts")
    assert status == 0 and "Total params: 61,706" in out
    assert "(None, 400)" in out


def test_summary_counts_macs_by_hand(capsys):
    # conv1 24*24*6*25, conv2 8*8*16*150, dense 256*120 + 120*84 + 84*10
    status, out, _ = run(capsys, "summary", "lenet", "--counts")
    total_line = out.strip().splitlines()[-1].split()
    assert status == 0 and total_line[0] == "total"
    assert total_line[1:3] == ["44,426", f"{86400 + 153600 + 30720 + 10080 + 840:,}"]


def test_rf_of_kernels_and_of_lenet(capsys):
    status, out, _ = run(capsys, "rf", "--kernels", "3", "3", "3", "--dilations", "1", "2", "4")
    assert status == 0
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["1x1", "3x3", "7x7", "15x15"]
    status, out, _ = run(capsys, "rf", "lenet")
    assert status == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[1:4] for row in rows[:5]] == [["28x28", "1x1", "1x1"], ["24x24", "5x5", "1x1"], ["12x12", "6x6", "2x2"],
                                              ["8x8", "14x14", "2x2"], ["4x4", "16x16", "4x4"]]


def test_rf_errors(capsys):
    status, _, err = run(capsys, "rf", "--kernels", "3", "3", "--strides", "1")
    assert status == 1 and "one value per kernel (2)" in err
    status, _, err = run(capsys, "rf")
    assert status == 1 and "give a model" in err


# ----- train / evaluate / predict --------------------------------------------------------------
def test_train_writes_model_and_pictures(trained_run):
    assert cli.FILTERS_FILE_NAME == "filters.png" and cli.FEATURE_MAPS_FILE_NAME == "feature_maps.png"
    for name in (cli.MODEL_FILE_NAME, cli.CURVES_FILE_NAME, cli.CONFUSION_FILE_NAME, cli.FILTERS_FILE_NAME,
                 cli.FEATURE_MAPS_FILE_NAME):
        assert (trained_run / name).stat().st_size > 1000
    for name in (cli.CURVES_FILE_NAME, cli.FILTERS_FILE_NAME, cli.FEATURE_MAPS_FILE_NAME):
        with Image.open(trained_run / name) as picture:
            assert picture.format == "PNG"
            assert min(picture.size) >= 200 and picture.size[0] > picture.size[1]
            assert np.asarray(picture.convert("L")).std() > 1.0  # drawn on, not blank


@pytest.fixture
def no_kernel_pictures(monkeypatch):
    """Skip drawing the kernel and feature-map pictures in tests that check other things (saves ~1 s a run)."""
    import cnnkit.viz

    monkeypatch.setattr(cnnkit.viz, "plot_learned_and_classic_filters", lambda model, path, **options: path)
    monkeypatch.setattr(cnnkit.viz, "plot_feature_maps", lambda model, image, path, **options: path)


def test_same_seed_same_weights_other_seed_other_weights(trained_run, tmp_path, no_kernel_pictures):
    from cnnkit.models import load_model

    for seed, should_match in (("3", True), ("4", False)):
        out = tmp_path / seed
        argv = ["train", "lenet", "--epochs", "1", "--limit", "256", "--out", str(out), "--verbose", "0", "--seed", seed]
        assert cli.main(argv) == 0
        first = load_model(str(trained_run / cli.MODEL_FILE_NAME)).get_weights()
        second = load_model(str(out / cli.MODEL_FILE_NAME)).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(first, second))
        assert same == should_match


def test_train_prints_its_recipe_and_accuracy(tmp_path, capsys, no_kernel_pictures):
    status, out, _ = run(capsys, "train", "lenet", "--epochs", "1", "--limit", "128", "--out", str(tmp_path),
                         "--verbose", "0", "--max-shift", "0", "--optimizer", "sgd", "--learning-rate", "0.01",
                         "--schedule", "constant")
    assert status == 0
    first_line = out.splitlines()[0]
    assert "SGD (momentum 0.9), learning rate 0.01 (constant), 1 epochs of batch 128, no augmentation" in first_line
    assert "Test accuracy:" in out and "on 128 held-out digits" in out
    written = out.strip().splitlines()[-1]
    names = (cli.MODEL_FILE_NAME, cli.CURVES_FILE_NAME, cli.CONFUSION_FILE_NAME, cli.FILTERS_FILE_NAME,
             cli.FEATURE_MAPS_FILE_NAME)
    assert written == "Wrote " + ", ".join(str(tmp_path / name) for name in names)


def test_evaluate_matches_the_loaded_model(trained_run, capsys):
    from cnnkit.models import load_model

    status, out, _ = run(capsys, "evaluate", str(trained_run / cli.MODEL_FILE_NAME), "--limit", "300")
    assert status == 0
    _, (x_test, y_test) = mnist.load_data()
    model = load_model(str(trained_run / cli.MODEL_FILE_NAME))
    predictions = np.asarray(model.predict(x_test[:300, :, :, None].astype(np.float32) / 255.0, verbose=0))
    accuracy = np.mean(predictions.argmax(axis=1) == y_test[:300])
    assert f"accuracy {100 * accuracy:.2f}% on 300 held-out digits" in out
    assert "per digit: 0:" in out


def test_predict_reads_pictures_like_the_library(trained_run, tmp_path, capsys):
    from cnnkit.models import load_model
    from cnnkit.vision import load_digit

    _, (x_test, _) = mnist.load_data()
    paths = []
    for index in (0, 1):
        path = tmp_path / f"digit{index}.png"
        # Dark ink on a light, coloured background, 3 times larger: unlike MNIST on purpose.
        ink = 1.0 - x_test[index] / 255.0
        colour = np.stack([ink * 230, ink * 220, ink * 180], axis=-1).astype(np.uint8)
        Image.fromarray(colour).resize((84, 84), Image.Resampling.BILINEAR).save(path)
        paths.append(str(path))
    status, out, _ = run(capsys, "predict", str(trained_run / cli.MODEL_FILE_NAME), *paths, "--top", "2")
    assert status == 0
    model = load_model(str(trained_run / cli.MODEL_FILE_NAME))
    scores = np.asarray(model.predict(np.stack([load_digit(path) for path in paths])[..., None], verbose=0))
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line, path, row in zip(lines, paths, scores):
        assert line.startswith(f"{path}: {int(row.argmax())}  (")
        assert line.count("%") == 2


def test_model_file_errors(tmp_path, capsys):
    status, _, err = run(capsys, "evaluate", str(tmp_path / "missing.cnnkit"))
    assert status == 1 and "no model file" in err
    broken = tmp_path / "broken.cnnkit"
    broken.write_bytes(b"\x00" * 20)
    status, _, err = run(capsys, "predict", str(broken), "x.png")
    assert status == 1 and err.startswith("cnnkit predict: error:")


def test_predict_errors(trained_run, tmp_path, capsys):
    model = str(trained_run / cli.MODEL_FILE_NAME)
    status, _, err = run(capsys, "predict", model, str(tmp_path / "absent.png"))
    assert status == 1 and "absent.png" in err
    text = tmp_path / "notes.png"
    text.write_text("hello")
    status, _, err = run(capsys, "predict", model, str(text))
    assert status == 1 and "not an image" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "lenet", "--epochs", "0"],
        ["train", "alexnet"],
        ["train", "lenet", "--learning-rate", "-1"],
        ["predict", "model.cnnkit"],
        ["animate", "--padding", "lots"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert "usage: cnnkit" in capsys.readouterr().err


# ----- filter, animate, bench --------------------------------------------------------------------
def test_filter_and_animate_write_files(tmp_path, capsys):
    picture = tmp_path / "square.png"
    canvas = np.zeros((40, 40), dtype=np.uint8)
    canvas[10:30, 10:30] = 255
    Image.fromarray(canvas).save(picture)
    for name in ("sobel", "gaussian", "gabor"):
        status, out, _ = run(capsys, "filter", name, str(picture), "--out", str(tmp_path / f"{name}.png"))
        assert status == 0 and "Wrote" in out
        with Image.open(tmp_path / f"{name}.png") as result:
            assert result.size == (40, 40)
    edges = np.asarray(Image.open(tmp_path / "sobel.png"))
    assert edges[20, 10] > 200 and edges[20, 20] == 0  # strong on the square's edge, none inside
    status, out, _ = run(capsys, "animate", "--lecture", "--strides", "2", "--out", str(tmp_path / "conv.gif"))
    assert status == 0
    with Image.open(tmp_path / "conv.gif") as gif:
        assert gif.n_frames == 3 * 3 + 1


def test_bench_errors_are_clear(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_repository_root", lambda: str(tmp_path))
    status, _, err = run(capsys, "bench")
    assert status == 1 and "benchmarks are not here" in err and "source checkout" in err
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "run.py").write_text("def main(argv):\n    return 0\n")
    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *args: None if name == "torch" else real_find_spec(name, *args))
    status, _, err = run(capsys, "bench", "--quick")
    assert status == 1 and "PyTorch, which is not installed" in err


def test_bench_passes_its_arguments_on(monkeypatch, tmp_path, capsys):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "__init__.py").write_text("")
    (tmp_path / "benchmarks" / "run.py").write_text(
        "def main(argv):\n    print('bench got', argv)\n    return 7\n"
    )
    monkeypatch.setattr(cli, "_repository_root", lambda: str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [name for name in sys.modules if name == "benchmarks" or name.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    status, out, _ = run(capsys, "bench", "--quick", "--cases", "lenet_epoch")
    assert status == 7
    assert "bench got ['--quick', '--cases', 'lenet_epoch']" in out


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "cnnkit.cli", "rf", "--kernels", "5", "5"],
                            capture_output=True, text=True, timeout=60,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr
    assert "9x9" in result.stdout
