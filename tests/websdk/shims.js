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
        // A FormData (file uploads) or a Blob is encoded as a browser would: the multipart
        // form with its boundary, or the blob's bytes (Node 20's Response does both).
        if (body instanceof globalThis.FormData || body instanceof globalThis.Blob) {
            const encoded = new globalThis.Response(body)
            const type = encoded.headers.get('content-type')
            encoded.arrayBuffer().then(
                bytes => this._send(Buffer.from(bytes), type),
                () => this._emit('error')
            )
            return
        }
        this._send(body === null || body === undefined ? null : Buffer.from(String(body)))
    }

    _send(payload, contentType) {
        const url = new URL(this._url)
        const transport = url.protocol === 'https:' ? https : http
        const headers = { ...this._headers }
        if (contentType && !Object.keys(headers).some(k => k.toLowerCase() === 'content-type')) {
            headers['Content-Type'] = contentType
        }
        if (payload) headers['Content-Length'] = payload.length
        const req = transport.request(url, { method: this._method, headers }, res => {
            const chunks = []
            res.on('data', chunk => chunks.push(chunk))
            res.on('end', () => {
                this.status = res.statusCode
                this._responseHeaders = res.headers
                this.responseURL = this._url
                const bytes = Buffer.concat(chunks)
                this.responseText = bytes.toString('utf8')
                this.response = this.responseText
                if (this.responseType === 'blob') {
                    const type = res.headers['content-type'] || ''
                    this.response = new globalThis.Blob([bytes], { type })
                } else if (this.responseType === 'arraybuffer') {
                    this.response = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
                }
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

// FileReader, for the SDK's chunked upload (it reads the file once) and its download
// errors (it reads the refused blob as text to find the JSON error body).
class FileReaderShim {
    constructor() {
        this.readyState = 0
        this.result = null
        this.error = null
        this._listeners = {}
        this.onload = null
        this.onloadend = null
        this.onerror = null
    }

    addEventListener(name, fn) {
        ;(this._listeners[name] = this._listeners[name] || []).push(fn)
    }

    _emit(name) {
        const event = { target: this }
        const handler = this['on' + name]
        if (typeof handler === 'function') handler.call(this, event)
        for (const fn of this._listeners[name] || []) fn.call(this, event)
    }

    _read(blob, convert) {
        this.readyState = 1
        Promise.resolve(blob.arrayBuffer()).then(
            bytes => {
                this.result = convert(bytes, blob)
                this.readyState = 2
                this._emit('load')
                this._emit('loadend')
            },
            err => {
                this.error = err
                this.readyState = 2
                this._emit('error')
                this._emit('loadend')
            }
        )
    }

    readAsArrayBuffer(blob) {
        this._read(blob, bytes => bytes)
    }

    readAsText(blob) {
        this._read(blob, bytes => Buffer.from(bytes).toString('utf8'))
    }

    readAsDataURL(blob) {
        this._read(
            blob,
            (bytes, b) => `data:${b.type || 'application/octet-stream'};base64,${Buffer.from(bytes).toString('base64')}`
        )
    }

    abort() {}
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
    if (!g.FileReader) g.FileReader = FileReaderShim
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

module.exports = { install, XMLHttpRequestShim, FileReaderShim }
