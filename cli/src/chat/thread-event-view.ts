import { TurnStatus, turnStatusToJSON, type ThreadEvent } from '@elixirchain/proto/agent';
import type { Output } from '../output/output.js';

/** Renders a thread's events for a person: streamed text, tool calls with progress, a summary line. */
export class ThreadEventView {
  private midLine = false;
  private lastProgress = new Map<string, string>();

  constructor(
    private readonly out: Output,
    private readonly agentLabel: string,
  ) {}

  show(event: ThreadEvent): void {
    if (this.out.json) {
      this.out.event(event);
      return;
    }
    const body = event.event;
    if (!body) return;
    switch (body.$case) {
      case 'turnQueued':
        this.block(`  (queued behind ${body.turnQueued.position} turn${body.turnQueued.position === 1 ? '' : 's'})`);
        break;
      case 'turnStarted':
        break;
      case 'textDelta':
        if (!this.midLine) this.out.write(`${this.agentLabel} › `);
        this.out.write(body.textDelta.text);
        this.midLine = true;
        break;
      case 'toolCallStarted': {
        const c = body.toolCallStarted;
        const version = c.toolVersion.includes('@') ? c.toolVersion.slice(c.toolVersion.lastIndexOf('@')) : c.toolVersion ? `@${c.toolVersion}` : '';
        this.block(`  ⚙ ${c.toolName}${version} ${compact(c.arguments ?? {})}`);
        break;
      }
      case 'toolCallProgress': {
        const p = body.toolCallProgress;
        const text = `${p.fraction >= 0 ? `${Math.round(p.fraction * 100)}%` : '…'}${p.message ? ` ${p.message}` : ''}`;
        if (this.lastProgress.get(p.callId) === text) break;
        this.lastProgress.set(p.callId, text);
        this.block(`    ${text}`);
        break;
      }
      case 'toolCallCompleted': {
        const c = body.toolCallCompleted;
        const took = c.duration ? ` (${Math.round(c.duration.seconds * 1000 + c.duration.nanos / 1e6)} ms)` : '';
        if (c.error && c.error.code !== 0) this.block(`  ✗ ${c.toolName} failed: ${c.error.message}${took}`);
        else this.block(`  ✓ ${c.toolName} → ${compact(c.result)}${took}`);
        break;
      }
      case 'approvalRequired':
        // The approver asks the question; the view only closes the text line.
        this.endLine();
        break;
      case 'approvalResolved': {
        const r = body.approvalResolved;
        this.block(`  ${r.approved ? 'approved' : 'denied'}${r.reason ? `: ${r.reason}` : ''}`);
        break;
      }
      case 'messageCompleted':
        this.endLine();
        break;
      case 'turnCompleted': {
        const t = body.turnCompleted;
        const u = t.usage;
        const parts = [describeStatus(t.status)];
        if (u) parts.push(`${u.modelCalls} model call${u.modelCalls === 1 ? '' : 's'}`, `${u.toolCalls} tool call${u.toolCalls === 1 ? '' : 's'}`, `${u.totalTokens} tokens`);
        if (t.duration) parts.push(`${(t.duration.seconds + t.duration.nanos / 1e9).toFixed(1)} s`);
        this.block(`  (${parts.join(' · ')})`);
        break;
      }
      case 'error':
        this.block(`  error: ${body.error.status?.message ?? 'the turn failed'}`);
        break;
    }
  }

  endLine(): void {
    if (this.midLine) this.out.write('\n');
    this.midLine = false;
  }

  private block(line: string): void {
    this.endLine();
    this.out.line(line);
  }
}

export function describeStatus(status: TurnStatus): string {
  return turnStatusToJSON(status).replace(/^TURN_STATUS_/, '').toLowerCase();
}

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
