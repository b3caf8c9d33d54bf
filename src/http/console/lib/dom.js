// Small DOM helpers: elements from tag, properties and children, and a re-render that keeps what
// the operator was doing.

export function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'text') el.textContent = v
    // through CSSOM: the page's Content-Security-Policy forbids inline style attributes
    else if (k === 'style') Object.assign(el.style, v)
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

const svgNS = 'http://www.w3.org/2000/svg'
export function s (tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag)
  for (const [k, v] of Object.entries(attrs ?? {})) if (v != null) el.setAttribute(k, String(v))
  for (const c of children.flat(Infinity)) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}

export const $ = (sel) => document.querySelector(sel)

/**
 * Replaces a container's content, keeping what the operator was doing: the focused control
 * (by id or data-key) and the values typed into inputs that carry an id or data-key.
 */
export function renderInto (container, ...nodes) {
  const keyOf = (el) => el?.id || el?.dataset?.key
  const active = document.activeElement
  const activeKey = container.contains(active) ? keyOf(active) : null
  const values = new Map()
  for (const input of container.querySelectorAll('input, select')) {
    const k = keyOf(input)
    if (k) values.set(k, input.type === 'checkbox' ? input.checked : input.value)
  }
  container.replaceChildren(...nodes.flat())
  for (const input of container.querySelectorAll('input, select')) {
    const k = keyOf(input)
    if (k && values.has(k)) {
      if (input.type === 'checkbox') input.checked = values.get(k)
      else input.value = values.get(k)
    }
  }
  if (activeKey) {
    const again = [...container.querySelectorAll('[id], [data-key]')].find(el => keyOf(el) === activeKey)
    again?.focus({ preventScroll: true })
  }
}
