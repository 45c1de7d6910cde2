// The node's live view: draws the graph (or a node's neighbourhood, for large graphs) with Cytoscape.js,
// keeps it current from the node's event stream, and shows the sync status and peers beside it.
(function () {
  'use strict';
  const WHOLE_GRAPH_LIMIT = 2000;   // more live nodes than this: draw a neighbourhood instead
  const STATUS_EVERY_MS = 3000;
  const MAX_CHANGES_LISTED = 50;

  const palette = ['#3867d6', '#20bf6b', '#eb3b5a', '#f7b731', '#8854d0', '#0fb9b1', '#fa8231', '#4b6584'];
  const colours = {};
  function colourOf(type) {
    if (!(type in colours)) colours[type] = palette[Object.keys(colours).length % palette.length];
    return colours[type];
  }

  const cy = cytoscape({
    container: document.getElementById('graph'),
    wheelSensitivity: 0.3,
    minZoom: 0.05,
    maxZoom: 2,
    style: [
      { selector: 'node', style: { 'label': 'data(id)', 'background-color': 'data(colour)', 'font-size': 10,
          'width': 18, 'height': 18, 'color': '#1d2330', 'text-valign': 'bottom', 'text-margin-y': 3 } },
      { selector: 'edge', style: { 'width': 1.5, 'line-color': '#a5b1c2', 'target-arrow-color': '#a5b1c2',
          'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'arrow-scale': 0.8 } },
      { selector: 'edge:selected', style: { 'label': 'data(type)', 'font-size': 9, 'color': '#4b6584',
          'line-color': '#1d2330', 'target-arrow-color': '#1d2330' } },
      { selector: '.fresh', style: { 'border-width': 3, 'border-color': '#f7b731' } },
      { selector: ':selected', style: { 'border-width': 3, 'border-color': '#1d2330' } }
    ]
  });

  let focus = null;   // null: the whole graph; else the id whose neighbourhood is drawn

  function nodeData(n) {
    return { id: n.id, type: n.type, properties: n.properties, colour: colourOf(n.type) };
  }
  function edgeData(e) {
    return { id: 'edge:' + e.id, edgeId: e.id, type: e.type, source: e.source, target: e.target,
             properties: e.properties };
  }

  function upsertNode(n) {
    const existing = cy.getElementById(n.id);
    if (existing.nonempty()) { existing.data(nodeData(n)); return existing; }
    return cy.add({ group: 'nodes', data: nodeData(n), position: placeNear(n.id) });
  }
  function upsertEdge(e) {
    if (cy.getElementById(e.source).empty() || cy.getElementById(e.target).empty()) return;
    const existing = cy.getElementById('edge:' + e.id);
    if (existing.nonempty()) {
      if (existing.data('source') === e.source && existing.data('target') === e.target) {
        existing.data(edgeData(e));
        return;
      }
      existing.remove();
    }
    cy.add({ group: 'edges', data: edgeData(e) });
  }
  function placeNear(id) {
    const w = cy.width() || 800, h = cy.height() || 600;
    return { x: w / 2 + (Math.random() - 0.5) * w * 0.6, y: h / 2 + (Math.random() - 0.5) * h * 0.6 };
  }
  function layout(fresh) {
    cy.layout({ name: 'cose', animate: false, randomize: !!fresh, nodeRepulsion: () => 400000,
                idealEdgeLength: () => 70, nodeOverlap: 20, gravity: 0.3, numIter: 1000, padding: 30 }).run();
    shown();
  }
  // live additions: lay the graph out again once they pause (small graphs only: a big one stays put)
  let relayout = null;
  function scheduleLayout() {
    if (cy.nodes().length > 500) return;
    clearTimeout(relayout);
    relayout = setTimeout(layout, 400);
  }
  function shown() {
    document.getElementById('shown').textContent =
      cy.nodes().length + ' nodes, ' + cy.edges().length + ' edges' + (focus ? ' around ' + focus : '');
    const byType = {};
    cy.nodes().forEach(n => { byType[n.data('type')] = (byType[n.data('type')] || 0) + 1; });
    const legend = document.getElementById('types');
    legend.textContent = '';
    Object.keys(byType).sort().forEach(type => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colourOf(type);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(type + ' ' + byType[type]));
      legend.appendChild(item);
    });
  }

  let asked = false;
  async function json(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    if (response.status === 401 && !asked) {
      // the API needs a key: kept in a cookie, which the event stream sends too (reads only)
      asked = true;
      const key = window.prompt('This node asks for an API key (role read or higher):');
      if (key) {
        document.cookie = 'loom_api_key=' + encodeURIComponent(key) + '; path=/; SameSite=Strict';
        location.reload();
      }
    }
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (ignored) { /* not JSON */ }
      throw new Error(detail);
    }
    return response.json();
  }

  async function loadWhole() {
    const graph = await json('/api/export/d3');
    focus = null;
    cy.elements().remove();
    cy.batch(() => {
      graph.nodes.forEach(upsertNode);
      graph.links.forEach(upsertEdge);
    });
    layout(true);
  }

  async function loadNeighbourhood(id) {
    const answer = await json('/api/nodes/' + encodeURIComponent(id) + '/neighbors?limit=500');
    focus = id;
    cy.elements().remove();
    cy.batch(() => {
      upsertNode(answer.node);
      answer.neighbors.forEach(n => upsertNode(n.node));
      answer.neighbors.forEach(n => upsertEdge(n.edge));
    });
    layout(true);
  }

  async function start() {
    const stats = await json('/api/graph/stats');
    if (stats.nodes.total <= WHOLE_GRAPH_LIMIT) {
      await loadWhole();
    } else {
      document.getElementById('shown').textContent = stats.nodes.total + ' nodes: choose one to draw its neighbourhood';
    }
  }

  // --- live changes
  function applyChange(event) {
    const c = event.change;
    if (!c) return;
    if (c.kind === 'node') {
      if (c.tombstone || c.op === 'delete') {
        cy.getElementById(c.id).remove();
      } else if (!focus || cy.getElementById(c.id).nonempty()) {
        upsertNode(c).addClass('fresh');
      }
    } else if (c.kind === 'edge') {
      if (c.tombstone || c.op === 'delete') {
        cy.getElementById('edge:' + c.id).remove();
      } else {
        if (focus && (c.source === focus || c.target === focus)) {
          // a new neighbour of the focused node: fetch the node at the other end
          const other = c.source === focus ? c.target : c.source;
          if (cy.getElementById(other).empty()) {
            json('/api/nodes/' + encodeURIComponent(other)).then(n => { upsertNode(n); upsertEdge(c); scheduleLayout(); })
              .catch(() => {});
          }
        }
        upsertEdge(c);
      }
    }
    setTimeout(() => cy.elements('.fresh').removeClass('fresh'), 1500);
    scheduleLayout();
    listChange(event);
    shown();
  }

  function listChange(event) {
    const c = event.change;
    const list = document.getElementById('changes');
    const item = document.createElement('li');
    item.textContent = (event.peer ? event.peer + ' ' : 'here ') + c.op + ' ' + c.kind + ' ' + c.id;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_CHANGES_LISTED) list.removeChild(list.lastChild);
  }

  function listen() {
    const events = new EventSource('/api/sync/events?kind=remote-change,local-change');
    ['remote-change', 'local-change'].forEach(kind =>
      events.addEventListener(kind, e => applyChange(JSON.parse(e.data))));
    events.addEventListener('subscribed', () => { window.loomView.live = true; });
    events.onerror = () => { window.loomView.live = false; };   // EventSource reconnects by itself
  }

  // --- status and peers
  function setText(id, text, ok) {
    const el = document.getElementById(id);
    el.textContent = text;
    el.className = ok === undefined ? '' : ok ? 'ok' : 'bad';
  }
  async function status() {
    try {
      const s = await json('/api/sync/status');
      setText('node-id', s.nodeId);
      setText('mesh', s.mesh);
      setText('broker', s.brokerConnected ? 'connected' : 'disconnected', s.brokerConnected);
      setText('capture', s.capturing ? 'capturing' : (s.captureError || 'stopped'), s.capturing);
      setText('pending', String(s.pending));
      const peers = document.getElementById('peers');
      peers.textContent = '';
      Object.entries(s.peers || {}).forEach(([id, p]) => {
        const item = document.createElement('li');
        item.dataset.peer = id;
        item.textContent = id + ' — seen ' + new Date(p.lastSeen).toLocaleTimeString() + ', ' + p.changesReceived
          + ' changes, breaker ' + p.circuitBreaker;
        item.className = p.circuitBreaker === 'closed' ? 'ok' : 'bad';
        peers.appendChild(item);
      });
      if (!peers.children.length) peers.innerHTML = '<li>none seen yet</li>';
    } catch (e) {
      setText('broker', 'node unreachable: ' + e.message, false);
    }
  }

  // --- interaction
  cy.on('tap', 'node, edge', e => {
    const d = e.target.data();
    document.getElementById('selected').textContent = JSON.stringify(
      { id: d.edgeId || d.id, type: d.type, source: d.edgeId ? d.source : undefined,
        target: d.edgeId ? d.target : undefined, properties: d.properties }, null, 2);
  });
  cy.on('dbltap', 'node', e => loadNeighbourhood(e.target.id()).catch(err => alert(err.message)));
  document.getElementById('focus').addEventListener('submit', e => {
    e.preventDefault();
    const id = document.getElementById('focus-id').value.trim();
    if (id) loadNeighbourhood(id).catch(err => alert(err.message));
  });
  document.getElementById('whole').addEventListener('click', () => loadWhole().catch(err => alert(err.message)));

  // what tests and scripts read
  window.loomView = {
    live: false,
    has: id => cy.getElementById(id).nonempty(),
    hasEdge: id => cy.getElementById('edge:' + id).nonempty(),
    counts: () => ({ nodes: cy.nodes().length, edges: cy.edges().length })
  };

  listen();
  status();
  setInterval(status, STATUS_EVERY_MS);
  start().catch(e => { document.getElementById('shown').textContent = 'could not load the graph: ' + e.message; });
})();
