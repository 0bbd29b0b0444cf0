import { render } from 'preact';
import { ApiKeyControl } from './components/api-key-control.js';
import { html } from './html.js';
import { AgentsPage } from './pages/agents-page.js';
import { ChainsPage } from './pages/chains-page.js';
import { ChatPage } from './pages/chat/chat-page.js';
import { HealthPage } from './pages/health-page.js';
import { MemoryPage } from './pages/memory-page.js';
import { RunsPage } from './pages/runs-page.js';
import { ThreadsPage } from './pages/threads-page.js';
import { ToolsPage } from './pages/tools-page.js';
import { href, useRoute } from './router.js';
import './styles.css';

const NAV = [
  ['chat', 'Chat'],
  ['agents', 'Agents'],
  ['threads', 'Threads'],
  ['tools', 'Tools'],
  ['chains', 'Chains'],
  ['runs', 'Runs'],
  ['memory', 'Memory'],
  ['health', 'Mesh health'],
] as const;

function App() {
  const [page = 'chat', a, b] = useRoute();
  let view;
  switch (page) {
    case 'agents': view = html`<${AgentsPage} agentId=${a} mode=${b} />`; break;
    case 'threads': view = html`<${ThreadsPage} agentId=${a} threadId=${b} />`; break;
    case 'tools': view = html`<${ToolsPage} name=${a} version=${b} />`; break;
    case 'chains': view = html`<${ChainsPage} chainId=${a} mode=${b} />`; break;
    case 'runs': view = html`<${RunsPage} runId=${a} />`; break;
    case 'memory': view = html`<${MemoryPage} />`; break;
    case 'health': view = html`<${HealthPage} />`; break;
    default: view = html`<${ChatPage} key=${a ?? ''} agentId=${a} threadId=${b} />`;
  }
  return html`<a class="skip" href="#" onClick=${(e: Event) => {
      // Not a hash link: the hash is the route.
      e.preventDefault();
      document.getElementById('main')?.focus();
    }}>Skip to content</a>
    <header class="top">
      <span class="brand">ElixirChain</span>
      <nav aria-label="Console">
        <ul>${NAV.map(([id, label]) => html`<li><a href=${href(id)} aria-current=${page === id ? 'page' : undefined}>${label}</a></li>`)}</ul>
      </nav>
      <${ApiKeyControl} />
    </header>
    <main id="main" tabindex="-1">${view}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
