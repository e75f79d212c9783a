"""Metrics: Keras's documented values, accumulation over batches, naive references and torch.topk."""
import numpy as np
import pytest
import torch

from cnnkit import metrics
from cnnkit.metrics import (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, Precision, Recall, SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, confusion_matrix,
)


# ----- Keras's documented examples ------------------------------------------------------------
@pytest.mark.parametrize(
    "metric, y_true, y_pred, weights, expected",
    [
        (Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], None, 0.75),
        (Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.5),
        (BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], None, 0.75),
        (BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.5),
        (CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], None, 0.5),
        (CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3], 0.3),
        (SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], None, 0.5),
        (SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.3),
        (TopKCategoricalAccuracy(k=1), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3], 0.3),
        (SparseTopKCategoricalAccuracy(k=1), [2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], None, 0.5),
        (Precision(), [0, 1, 1, 1], [1, 0, 1, 1], None, 2 / 3),
        (Precision(), [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 1.0),
        (Precision(top_k=2), [0, 0, 1, 1], [1, 1, 1, 1], None, 0.0),
        (Precision(top_k=4), [0, 0, 1, 1], [1, 1, 1, 1], None, 0.5),
        (Recall(), [0, 1, 1, 1], [1, 0, 1, 1], None, 2 / 3),
        (Recall(), [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 1.0),
    ],
)
def test_keras_documented_values(metric, y_true, y_pred, weights, expected):
    metric.update_state(y_true, y_pred, sample_weight=weights)
    assert metric.result() == pytest.approx(expected)


def test_accumulates_over_batches_and_resets():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=50)
    scores = rng.random((50, 5)).astype(np.float32)
    metric = SparseCategoricalAccuracy()
    for start in range(0, 50, 16):
        metric.update_state(labels[start : start + 16], scores[start : start + 16])
    expected = float(np.mean([labels[i] == np.argmax(scores[i]) for i in range(50)]))
    assert metric.result() == pytest.approx(expected)
    metric.reset_state()
    assert metric.result() == 0.0
    assert metric(labels[:10], scores[:10]) == pytest.approx(np.mean(labels[:10] == scores[:10].argmax(1)))


def test_top_k_matches_torch_topk():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((64, 10)).astype(np.float32)  # no ties
    labels = rng.integers(0, 10, size=64)
    for k in (1, 3, 5):
        top = torch.topk(torch.tensor(scores), k, dim=1).indices.numpy()
        expected = np.mean([labels[i] in top[i] for i in range(64)])
        assert SparseTopKCategoricalAccuracy(k=k)(labels, scores) == pytest.approx(expected)
        assert TopKCategoricalAccuracy(k=k)(np.eye(10)[labels], scores) == pytest.approx(expected)


def test_top_k_counts_ties_with_the_kth_score_as_in():
    assert metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.5, 0.5]], k=1)[0] == 1.0


def naive_precision_recall(y_true, y_pred, threshold):
    tp = fp = fn = 0
    for truth, score in zip(y_true.ravel(), y_pred.ravel()):
        predicted = score > threshold
        tp += truth and predicted
        fp += (not truth) and predicted
        fn += truth and not predicted
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def test_precision_recall_thresholds_and_class_id_against_naive_loops():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, size=(40, 3))
    y_pred = rng.random((40, 3))
    thresholds = [0.2, 0.5, 0.9]
    precision, recall = Precision(thresholds=thresholds), Recall(thresholds=thresholds)
    for start in (0, 25):
        precision.update_state(y_true[start : start + 25], y_pred[start : start + 25])
        recall.update_state(y_true[start : start + 25], y_pred[start : start + 25])
    for t, threshold in enumerate(thresholds):
        expected_p, expected_r = naive_precision_recall(y_true, y_pred, threshold)
        assert precision.result()[t] == pytest.approx(expected_p)
        assert recall.result()[t] == pytest.approx(expected_r)
    by_class = Precision(class_id=1)(y_true, y_pred)
    assert by_class == pytest.approx(naive_precision_recall(y_true[:, 1], y_pred[:, 1], 0.5)[0])


def test_confusion_matrix_against_naive_counts():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=100)
    scores = rng.random((100, 4))
    predictions = scores.argmax(axis=1)
    expected = np.zeros((4, 4), dtype=np.int64)
    for truth, guess in zip(labels, predictions):
        expected[truth, guess] += 1
    np.testing.assert_array_equal(confusion_matrix(labels, predictions, num_classes=4), expected)
    np.testing.assert_array_equal(confusion_matrix(np.eye(4)[labels], scores, 4), expected)
    assert confusion_matrix(labels, predictions).shape == (4, 4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: confusion_matrix([0, 1], [0], 2), "as many predictions"),
        (lambda: confusion_matrix([0, 5], [0, 1], 3), r"y_true.*outside \[0, 3\)"),
        (lambda: confusion_matrix([0, 1], [0, -1], 3), "y_pred"),
        (lambda: confusion_matrix([0.5, 1], [0, 1], 3), "integer"),
        (lambda: confusion_matrix([0, 1], [0, 1], 0), "num_classes"),
        (lambda: BinaryAccuracy(threshold=1.5), "threshold"),
        (lambda: TopKCategoricalAccuracy(k=0), "k"),
        (lambda: Precision(thresholds=[1.5]), "Threshold"),
        (lambda: metrics.get("acuracy"), "acuracy"),
        (lambda: metrics.get(3), "3"),
        (lambda: Precision()([[0, 1]], [[0.1, 0.2, 0.3]]), "same shape"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_get_resolves_keras_names():
    assert type(metrics.get("accuracy")) is Accuracy
    assert type(metrics.get("sparse_categorical_accuracy")) is SparseCategoricalAccuracy
    assert type(metrics.get("SparseTopKCategoricalAccuracy")) is SparseTopKCategoricalAccuracy
    assert type(metrics.get("mse")) is metrics.MeanSquaredError
    assert type(metrics.get(Precision)) is Precision
    rebuilt = metrics.get(metrics.serialize(TopKCategoricalAccuracy(k=3, name="top3")))
    assert (rebuilt.k, rebuilt.name) == (3, "top3")


@pytest.mark.parametrize(
    "identifier, y_true_shape, y_pred_shape, loss, expected",
    [
        ("accuracy", (8,), (8, 10), None, SparseCategoricalAccuracy),
        ("accuracy", (8, 1), (8, 10), None, SparseCategoricalAccuracy),
        ("acc", (8, 10), (8, 10), None, CategoricalAccuracy),
        ("accuracy", (8, 1), (8, 1), None, BinaryAccuracy),
        # Keras 3 (compile_utils.is_binary_or_sparse_categorical) looks at the shapes only, never
        # at the loss: these three pin that (they used to follow the loss, which Keras 3 does not).
        ("accuracy", (8,), (8,), "binary_crossentropy", CategoricalAccuracy),
        ("accuracy", (8, 10), (8, 10), "sparse_categorical_crossentropy", CategoricalAccuracy),
        ("Accuracy", (8,), (8, 10), "categorical_crossentropy", SparseCategoricalAccuracy),
        ("accuracy", (8, 3), (8, 3), "binary_crossentropy", CategoricalAccuracy),
    ],
)
def test_compiled_accuracy_variant(identifier, y_true_shape, y_pred_shape, loss, expected):
    metric = metrics.get_compiled_metric(identifier, np.zeros(y_true_shape), np.zeros(y_pred_shape), loss=loss)
    assert type(metric) is expected and metric.name == identifier


def test_compiled_metric_from_a_loss_object_and_a_function():
    class SparseCategoricalCrossentropy:  # stands in for a loss object; only its class name matters
        pass

    # The loss object is ignored, as in Keras 3: (4, 3) labels against (4, 3) scores are one-hot.
    metric = metrics.get_compiled_metric("accuracy", np.zeros((4, 3)), np.zeros((4, 3)), loss=SparseCategoricalCrossentropy())
    assert type(metric) is CategoricalAccuracy

    def hits(y_true, y_pred):
        return (np.asarray(y_true) == np.asarray(y_pred)).astype(np.float32)

    wrapped = metrics.get_compiled_metric(hits, None, None)
    assert wrapped.name == "hits" and wrapped([1, 2, 3], [1, 0, 3]) == pytest.approx(2 / 3)
    assert metrics.get_compiled_metric("mae", None, None).name == "mae"
