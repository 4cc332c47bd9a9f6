'use strict'
// Browser globals the official Web SDK expects, installed into Node 20 before the SDK is
// required (docs/websdk-notes.md, agora-protocol.md §8.1). The SDK picks its "web" code
// path only when window.WebSocket exists; password login and REST need XMLHttpRequest.
// No localStorage on purpose: the SDK would cache one device id for every connection of
// the process, and multi-device scenarios need a distinct resource per connection.

const http = require('http')
const https = require('https')
const { URL } = require('url')
const WebSocket = require('ws')

// The SDK logs through console.*; stdout is reserved for the scenario's result line.
for (const level of ['log', 'info', 'debug', 'warn']) {
    console[level] = (...args) => {
        if (process.env.WEBSDK_VERBOSE) process.stderr.write(args.map(String).join(' ') + '\n')
    }
}

class XMLHttpRequestShim {
    constructor() {
        this.readyState = 0
        this.status = 0
        this.responseText = ''
        this.response = ''
        this.responseType = ''
        this.responseURL = ''
        this.timeout = 0
        this.upload = { addEventListener() {} }
        this._headers = {}
        this._listeners = {}
        this.onreadystatechange = null
        this.onload = null
        this.onerror = null
        this.ontimeout = null
        this.onabort = null
    }

    addEventListener(name, fn) {
        ;(this._listeners[name] = this._listeners[name] || []).push(fn)
    }

    _emit(name) {
        const handler = this['on' + name]
        if (typeof handler === 'function') handler.call(this, { target: this })
        for (const fn of this._listeners[name] || []) fn.call(this, { target: this })
    }

    open(method, url) {
        this._method = method
        this._url = url
        this.readyState = 1
    }

    setRequestHeader(name, value) {
        this._headers[name] = value
    }

    overrideMimeType() {}

    getResponseHeader(name) {
        const value = this._responseHeaders && this._responseHeaders[name.toLowerCase()]
        return value === undefined ? null : String(value)
    }

    getAllResponseHeaders() {
        return Object.entries(this._responseHeaders || {})
            .map(([k, v]) => `${k}: ${v}`)
            .join('\r\n')
    }

    abort() {
        if (this._req) this._req.destroy()
        this._emit('abort')
    }

    send(body) {
        const url = new URL(this._url)
        const transport = url.protocol === 'https:' ? https : http
        const payload = body === null || body === undefined ? null : Buffer.from(String(body))
        const headers = { ...this._headers }
        if (payload) headers['Content-Length'] = payload.length
        const req = transport.request(url, { method: this._method, headers }, res => {
            const chunks = []
            res.on('data', chunk => chunks.push(chunk))
            res.on('end', () => {
                this.status = res.statusCode
                this._responseHeaders = res.headers
                this.responseURL = this._url
                this.responseText = Buffer.concat(chunks).toString('utf8')
                this.response = this.responseText
                this.readyState = 4
                this._emit('readystatechange')
                this._emit('load')
                this._emit('loadend')
            })
        })
        this._req = req
        if (this.timeout > 0) {
            req.setTimeout(this.timeout, () => {
                req.destroy()
                this.readyState = 4
                this._emit('timeout')
            })
        }
        req.on('error', () => {
            if (this.readyState === 4) return
            this.readyState = 4
            this.status = 0
            this._emit('error')
        })
        if (payload) req.write(payload)
        req.end()
    }
}

// A browser WebSocket never throws on a network error: it fires `error` then `close`. The
// SDK only sets onopen/onclose/onmessage, so `ws` would crash the process on an unhandled
// 'error' event; swallow it (the SDK reacts to the close that always follows).
class BrowserWebSocket extends WebSocket {
    constructor(url, protocols) {
        super(url, protocols)
        this.on('error', () => {})
    }
}

function install() {
    const g = globalThis
    if (g.__kibitzShims) return
    g.__kibitzShims = true
    g.self = g
    g.window = g
    g.WebSocket = BrowserWebSocket
    g.XMLHttpRequest = XMLHttpRequestShim
    g.addEventListener = () => {}
    g.removeEventListener = () => {}
    g.document = {
        addEventListener() {},
        removeEventListener() {},
        hidden: false,
        visibilityState: 'visible',
    }
    Object.defineProperty(g, 'navigator', {
        value: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) kibitz-websdk-lane', onLine: true },
        configurable: true,
        writable: true,
    })
}

install()

module.exports = { install, XMLHttpRequestShim }
