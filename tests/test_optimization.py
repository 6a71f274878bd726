import keras
import numpy as np
import pytest

from tfbert.training.optimization import WarmupLinearDecay, create_optimizer


def test_schedule_warms_up_then_decays_linearly():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(rates, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)


def test_schedule_serializes():
    schedule = WarmupLinearDecay(2e-5, total_steps=7, warmup_steps=3)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(clone(5)) == pytest.approx(float(schedule(5)))


@pytest.mark.parametrize("kwargs,message", [
    (dict(peak_learning_rate=1.0, total_steps=0), "total_steps"),
    (dict(peak_learning_rate=1.0, total_steps=5, warmup_steps=6), "warmup_steps"),
])
def test_schedule_rejects_bad_steps(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WarmupLinearDecay(**kwargs)


def test_create_optimizer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="learning_rate"):
        create_optimizer(0.0, total_steps=10)
    with pytest.raises(ValueError, match="warmup_fraction"):
        create_optimizer(1e-3, total_steps=10, warmup_fraction=1.5)


def test_weight_decay_skips_layer_norm_and_bias():
    dense = keras.layers.Dense(3, name="dense")
    norm = keras.layers.LayerNormalization(name="layer_norm")
    model = keras.Sequential([keras.Input((4,)), dense, norm])
    optimizer = create_optimizer(0.1, total_steps=10, warmup_fraction=0.0, weight_decay=0.5,
                                 global_clipnorm=None)
    before = [np.array(v) for v in model.trainable_variables]
    zero_grads = [np.zeros(v.shape, "float32") for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zero_grads, model.trainable_variables))
    after = {"/".join(v.path.split("/")[-2:]): (b, np.array(v)) for v, b in zip(model.trainable_variables, before)}
    # With zero gradients only decoupled weight decay moves a variable.
    assert not np.allclose(*after["dense/kernel"])
    for name in ("dense/bias", "layer_norm/gamma", "layer_norm/beta"):
        np.testing.assert_array_equal(*after[name])
