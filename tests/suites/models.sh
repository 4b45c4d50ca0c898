#!/bin/sh
# Every network in models/ end to end against PyTorch: dlc compiles the
# .net file, the harness re-creates the weights with --seed 1 (the seed
# tests/ref/gen_models.py used, the file's BatchNorm tensors overriding
# them), runs forward on the file's inputs and compares each output with
# PyTorch's float64 result.  One PASS/FAIL line per model; a model without
# reference data is a FAIL (regenerate it with tests/ref/gen_models.py).
cd "$(dirname "$0")/../.." || exit 1
T=build/test/models
mkdir -p "$T" || exit 1

for net in models/*.net; do
    name=$(basename "$net" .net)
    label=model-$name
    data=tests/models/$name.safetensors
    if [ ! -f "$data" ]; then
        echo "FAIL $label: no reference data $data (run /usr/bin/python3 tests/ref/gen_models.py $name)"
        continue
    fi
    if ! tests/build_model.sh "$net" "$T/$name" --batch 2 >"$T/$name.build" 2>&1; then
        echo "FAIL $label: $(tail -n 1 "$T/$name.build")"
        continue
    fi
    out=$("$T/$name/harness" "$data" --seed 1 --rtol 1e-4 --atol 1e-5 --label "$label" 2>&1)
    status=$?
    line=$(printf '%s\n' "$out" | grep -m 1 -E "^(PASS|FAIL) $label")
    if [ $status -eq 0 ] && [ "$line" = "PASS $label" ]; then
        echo "$line"
    elif [ -n "$line" ] && [ "${line#FAIL}" != "$line" ]; then
        echo "$line"
    else
        echo "FAIL $label: harness exited $status: $(printf '%s\n' "$out" | tail -n 1)"
    fi
done
