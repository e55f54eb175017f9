"""One vina subnet MLP as a full-int8 TFLite model for microflow.

Input: `subnet.json` from `cargo run -p vina-core --example subnet_dump --features std`
(the committed int8 cINN's first subnet, weights dequantized, 256 representative inputs
and vina-core's outputs). Output: `subnet.tflite` (int8 weights, one scale per tensor, and
int8 activations; int8 input/output tensors: what microflow 0.1.3 compiles).

    python3 -m venv venv && venv/bin/pip install tensorflow-cpu   # 2.x
    venv/bin/python bench/mlp_m4/make_tflite.py
"""

import json
import pathlib

import numpy as np
import tensorflow as tf

HERE = pathlib.Path(__file__).parent


def main() -> None:
    dump = json.loads((HERE / "subnet.json").read_text())
    layers = dump["layers"]
    inputs = np.array(dump["inputs"], dtype=np.float32)
    vina = np.array(dump["vina_outputs"], dtype=np.float32)

    keras_layers = [tf.keras.Input(shape=(inputs.shape[1],), batch_size=1)]
    for layer in layers:
        w = np.array(layer["weights"], dtype=np.float32)  # [out][in]
        act = "relu" if layer["activation"] == "Relu" else None
        dense = tf.keras.layers.Dense(w.shape[0], activation=act)
        keras_layers.append(dense)
    model = tf.keras.Sequential(keras_layers)
    for dense, layer in zip(model.layers, layers):
        w = np.array(layer["weights"], dtype=np.float32)
        dense.set_weights([w.T, np.array(layer["bias"], dtype=np.float32)])

    float_out = model.predict(inputs, batch_size=1, verbose=0)
    err = np.abs(float_out - vina).max()
    print(f"Keras float model vs vina-core (int8 weights, f32 activations): max |diff| {err:.3g}")
    assert err < 1e-4, "the Keras model is not vina's subnet"

    def representative():
        for x in inputs:
            yield [x[None, :]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # microflow 0.1.3 takes one weight scale per FullyConnected tensor (TF's default for
    # Dense layers is now per channel; vina keeps one scale per output row)
    conv._experimental_disable_per_channel = True
    tflite = conv.convert()
    (HERE / "subnet.tflite").write_bytes(tflite)

    interp = tf.lite.Interpreter(model_content=tflite)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    (si, zi), (so, zo) = inp["quantization"], out["quantization"]
    q_out = []
    for x in inputs:
        q = np.clip(np.round(x / si + zi), -128, 127).astype(np.int8)[None, :]
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        q_out.append((interp.get_tensor(out["index"]).astype(np.float32)[0] - zo) * so)
    q_out = np.array(q_out)
    scale = np.abs(vina).max()
    print(
        f"TFLite full int8 vs vina-core: max |diff| {np.abs(q_out - vina).max():.4g} "
        f"(output range ±{scale:.3g}), median {np.median(np.abs(q_out - vina)):.4g}; "
        f"{len(tflite)} bytes"
    )


if __name__ == "__main__":
    main()
