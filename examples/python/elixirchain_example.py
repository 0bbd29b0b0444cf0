#!/usr/bin/env python3
"""Drives a running ElixirChain mesh from Python with plain grpcio.

Creates an agent, streams a reply with its tool calls, then creates and runs
a chain, printing each step. Run ./generate.sh first, and `npm start` in the
repository (or point the ELIXIRCHAIN_*_ADDR variables at your mesh).
"""
import json
import os
import sys
import uuid

sys.path.insert(0, os.environ.get("ELIXIRCHAIN_PY_GEN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")))

import grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

from elixirchain.agent.v1 import agent_pb2, agent_pb2_grpc  # noqa: E402
from elixirchain.chain.v1 import chain_pb2, chain_pb2_grpc  # noqa: E402

AGENT_ADDR = os.environ.get("ELIXIRCHAIN_AGENT_HOST_ADDR", "127.0.0.1:50051")
CHAIN_ADDR = os.environ.get("ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR", "127.0.0.1:50054")


def create_agent(agents):
    """Creates (or finds) an agent with the calculator tool the launcher seeds."""
    agent = agent_pb2.Agent(
        id="py-calculator",
        display_name="Python example agent",
        instructions="Use the calculator for arithmetic.",
        tools=[agent_pb2.ToolRef(name="calculator", version_range="^1")],
    )
    try:
        created = agents.CreateAgent(agent_pb2.CreateAgentRequest(agent=agent, request_id="py-example-agent"), timeout=10)
        print(f"created agent {created.agent.id} v{created.agent.version}")
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        print(f"agent {agent.id} already exists")
    return agent.id


def chat(agents, agent_id, text):
    """Sends one message and prints the turn as it streams."""
    request = agent_pb2.SendMessageRequest(agent_id=agent_id, content=text, request_id=str(uuid.uuid4()))
    status = None
    tool_calls = 0
    for response in agents.SendMessage(request, timeout=60):
        event = response.event
        kind = event.WhichOneof("event")
        if kind == "text_delta":
            print(event.text_delta.text, end="", flush=True)
        elif kind == "tool_call_started":
            tool_calls += 1
            args = json.dumps(dict(event.tool_call_started.arguments))
            print(f"\n  [tool] {event.tool_call_started.tool_name} {args}")
        elif kind == "tool_call_completed":
            done = event.tool_call_completed
            outcome = f"failed: {done.error.message}" if done.error.code else "ok"
            print(f"  [tool] {done.tool_name} {outcome}")
        elif kind == "turn_completed":
            status = agent_pb2.TurnStatus.Name(event.turn_completed.status)
            print(f"\n  [turn] {status}")
    return status, tool_calls


def run_chain(chains):
    """Creates a two-step chain (calculator, then a CEL transform) and streams a run."""
    root = chain_pb2.Step(
        id="root",
        sequential=chain_pb2.SequentialStep(
            steps=[
                chain_pb2.Step(id="calc", tool=chain_pb2.ToolStep(tool="calculator", input='{"expression": input.expression}')),
                chain_pb2.Step(id="say", transform=chain_pb2.TransformStep(expression='"result: " + string(steps.calc.value)')),
            ]
        ),
    )
    chain = chain_pb2.Chain(id="py-example-chain", display_name="Python example chain", root=root)
    try:
        chains.CreateChain(chain_pb2.CreateChainRequest(chain=chain, request_id="py-example-chain"), timeout=10)
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    run_input = struct_pb2.Value()
    run_input.struct_value.update({"expression": "6 * 7"})
    output = None
    for response in chains.RunChain(chain_pb2.RunChainRequest(chain_id=chain.id, input=run_input, request_id=str(uuid.uuid4())), timeout=60):
        event = response.event
        kind = event.WhichOneof("event")
        if kind == "step_started":
            print(f"  [step] {event.step_started.path} started ({event.step_started.kind})")
        elif kind == "step_completed":
            print(f"  [step] {event.step_completed.path} completed")
        elif kind == "run_completed":
            output = event.run_completed.output.string_value
            print(f"  [run] succeeded: {output}")
        elif kind == "run_failed":
            print(f"  [run] failed: {event.run_failed.error.message}")
    return output


def main():
    with grpc.insecure_channel(AGENT_ADDR) as agent_channel, grpc.insecure_channel(CHAIN_ADDR) as chain_channel:
        agents = agent_pb2_grpc.AgentServiceStub(agent_channel)
        chains = chain_pb2_grpc.ChainServiceStub(chain_channel)
        agent_id = create_agent(agents)
        status, tool_calls = chat(agents, agent_id, "2 + 3")
        output = run_chain(chains)
    # One machine-readable line last, for scripts and the repository's e2e test.
    print(json.dumps({"turn_status": status, "tool_calls": tool_calls, "chain_output": output}))
    return 0 if status == "TURN_STATUS_COMPLETED" and tool_calls > 0 and output else 1


if __name__ == "__main__":
    sys.exit(main())
