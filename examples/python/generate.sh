#!/bin/sh
# Generates the Python gRPC code for the ElixirChain contract into ./gen
# (or the directory given) from ../../proto. Uses grpcio-tools when it is
# installed, else protoc with grpc_python_plugin (Debian: protobuf-compiler,
# protobuf-compiler-grpc).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out="${1:-$here/gen}"
python="${PYTHON:-python3}"
mkdir -p "$out"
files=$(cd "$proto" && find elixirchain google -name '*.proto' | sort)
if "$python" -c 'import grpc_tools' 2>/dev/null; then
  wkt=$("$python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
  (cd "$proto" && "$python" -m grpc_tools.protoc -I . -I "$wkt" --python_out="$out" --grpc_python_out="$out" $files)
elif command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null; then
  (cd "$proto" && protoc -I . --python_out="$out" --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" $files)
else
  echo "generate.sh: need grpcio-tools (pip install grpcio-tools) or protoc + grpc_python_plugin" >&2
  exit 1
fi
# No __init__.py files: namespace packages let the generated google/rpc
# share the `google` package with the installed google.protobuf.
echo "generated Python code in $out"
