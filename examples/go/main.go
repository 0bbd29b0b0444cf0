// Command example drives a running ElixirChain mesh from Go: it creates an
// agent, streams a reply with its tool calls, and runs a chain.
//
//	./generate.sh && go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	agentv1 "elixirchain.dev/examples/go/gen/elixirchain/agent/v1"
	chainv1 "elixirchain.dev/examples/go/gen/elixirchain/chain/v1"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func dial(addr string) *grpc.ClientConn {
	// grpc.Dial connects lazily, like grpc.NewClient in newer grpc-go.
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatalf("dial %s: %v", addr, err)
	}
	return conn
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agentConn := dial(env("ELIXIRCHAIN_AGENT_HOST_ADDR", "127.0.0.1:50051"))
	defer agentConn.Close()
	chainConn := dial(env("ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR", "127.0.0.1:50054"))
	defer chainConn.Close()
	agents := agentv1.NewAgentServiceClient(agentConn)
	chains := chainv1.NewChainServiceClient(chainConn)

	// 1. An agent with the calculator the launcher seeds (ALREADY_EXISTS is fine).
	_, err := agents.CreateAgent(ctx, &agentv1.CreateAgentRequest{
		RequestId: "go-example-agent",
		Agent: &agentv1.Agent{
			Id:           "go-calculator",
			Instructions: "Use the calculator for arithmetic.",
			Tools:        []*agentv1.ToolRef{{Name: "calculator", VersionRange: "^1"}},
		},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		log.Fatalf("CreateAgent: %v", err)
	}

	// 2. A reply, streamed: text deltas and tool calls as they happen.
	stream, err := agents.SendMessage(ctx, &agentv1.SendMessageRequest{AgentId: "go-calculator", Content: "7 * 6"})
	if err != nil {
		log.Fatalf("SendMessage: %v", err)
	}
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatalf("SendMessage stream: %v", err)
		}
		switch e := res.GetEvent().GetEvent().(type) {
		case *agentv1.ThreadEvent_TextDelta:
			fmt.Print(e.TextDelta.GetText())
		case *agentv1.ThreadEvent_ToolCallStarted:
			fmt.Printf("\n  [tool] %s %v\n", e.ToolCallStarted.GetToolName(), e.ToolCallStarted.GetArguments().AsMap())
		case *agentv1.ThreadEvent_ToolCallCompleted:
			fmt.Printf("  [tool] %s -> %v\n", e.ToolCallCompleted.GetToolName(), e.ToolCallCompleted.GetResult().AsInterface())
		case *agentv1.ThreadEvent_TurnCompleted:
			fmt.Printf("\n  [turn] %s\n", e.TurnCompleted.GetStatus())
		}
	}

	// 3. A chain: calculator, then a CEL transform; the run's steps stream.
	root := &chainv1.Step{Id: "root", Kind: &chainv1.Step_Sequential{Sequential: &chainv1.SequentialStep{Steps: []*chainv1.Step{
		{Id: "calc", Kind: &chainv1.Step_Tool{Tool: &chainv1.ToolStep{Tool: "calculator", Input: `{"expression": input.expression}`}}},
		{Id: "say", Kind: &chainv1.Step_Transform{Transform: &chainv1.TransformStep{Expression: `"result: " + string(steps.calc.value)`}}},
	}}}}
	_, err = chains.CreateChain(ctx, &chainv1.CreateChainRequest{RequestId: "go-example-chain", Chain: &chainv1.Chain{Id: "go-example-chain", Root: root}})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		log.Fatalf("CreateChain: %v", err)
	}
	input, _ := structpb.NewValue(map[string]any{"expression": "2 ^ 10"})
	run, err := chains.RunChain(ctx, &chainv1.RunChainRequest{ChainId: "go-example-chain", Input: input})
	if err != nil {
		log.Fatalf("RunChain: %v", err)
	}
	for {
		res, err := run.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatalf("RunChain stream: %v", err)
		}
		switch e := res.GetEvent().GetEvent().(type) {
		case *chainv1.RunEvent_StepStarted:
			fmt.Printf("  [step] %s started\n", e.StepStarted.GetPath())
		case *chainv1.RunEvent_StepCompleted:
			fmt.Printf("  [step] %s completed\n", e.StepCompleted.GetPath())
		case *chainv1.RunEvent_RunCompleted:
			fmt.Printf("  [run] %v\n", e.RunCompleted.GetOutput().AsInterface())
		case *chainv1.RunEvent_RunFailed:
			log.Fatalf("run failed: %s", e.RunFailed.GetError().GetMessage())
		}
	}
}
