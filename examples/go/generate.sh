#!/bin/sh
# Generates Go code for the ElixirChain contract into ./gen from ../../proto
# with protoc, protoc-gen-go and protoc-gen-go-grpc:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@latest
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest
# The .proto files carry no go_package option (the contract stays
# language-neutral), so the Go import paths are given here with M flags.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out="${1:-$here/gen}"
module="elixirchain.dev/examples/go/gen"
mkdir -p "$out"
files=$(cd "$proto" && find elixirchain -name '*.proto' | sort)
# google.rpc comes from genproto, the same package grpc-go's status uses:
# generating our own copy would register the same proto file twice.
maps="Mgoogle/rpc/status.proto=google.golang.org/genproto/googleapis/rpc/status"
maps="$maps,Mgoogle/rpc/error_details.proto=google.golang.org/genproto/googleapis/rpc/errdetails"
maps="$maps,Mgoogle/rpc/code.proto=google.golang.org/genproto/googleapis/rpc/code"
for f in $files; do
  dir=$(dirname "$f")
  pkg=$(echo "$dir" | tr '/' '_' | sed 's/^elixirchain_//;s/_v1$/v1/')
  maps="$maps,M$f=$module/$dir;$pkg"
done
(cd "$proto" && protoc -I . \
  --go_out="$out" --go_opt=paths=source_relative --go_opt="$maps" \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative --go-grpc_opt="$maps" \
  $files)
echo "generated Go code in $out"
