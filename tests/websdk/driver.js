'use strict'
// A small driver around the official Web SDK for the scenario scripts.
//
// A scenario script calls `run(cases)`; the case named by argv[2] receives a context with the
// parsed configuration (env WEBSDK_CONFIG, JSON) and helpers, and returns a JSON-able result.
// The script prints exactly one JSON line on stdout — {ok: true, ...result} or
// {ok: false, error, ...} — and exits non-zero on failure. Everything the SDK logs goes to
// stderr (set WEBSDK_VERBOSE=1 to see it).
//
// Configuration keys: sdk (npm package name), rest, ws, appKey, appToken, appId,
// appCertificate, users ({name: {password, uuid}}), timeoutMs, and per-case extras.

require('./shims')
const path = require('path')

const RECORDED_EVENTS = [
    'onConnected',
    'onDisconnected',
    'onReconnecting',
    'onError',
    'onTextMessage',
    'onCustomMessage',
    'onCmdMessage',
    'onLocationMessage',
    'onImageMessage',
    'onFileMessage',
    'onAudioMessage',
    'onVideoMessage',
    'onMessage',
    'onDeliveredMessage',
    'onReadMessage',
    'onReceivedMessage',
    'onOfflineMessageSyncStart',
    'onOfflineMessageSyncFinish',
    'onTokenWillExpire',
    'onTokenExpired',
]

class ScenarioFailure extends Error {
    constructor(message, details) {
        super(message)
        this.details = details
    }
}

function check(condition, message, details) {
    if (!condition) throw new ScenarioFailure(message, details)
}

function loadSdk(pkg) {
    const mod = require(path.join(__dirname, 'node_modules', pkg))
    const sdk = mod.default || mod
    if (!sdk.connection) throw new Error(`${pkg} has no connection class`)
    return sdk
}

function withTimeout(promise, ms, what) {
    let timer
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ScenarioFailure(`timeout after ${ms} ms: ${what}`)), ms)
    })
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// Plain JSON copy of an SDK error / event payload (they may hold Longs or functions).
function plain(value) {
    if (value === undefined) return null
    try {
        return JSON.parse(JSON.stringify(value, (k, v) => (typeof v === 'bigint' ? String(v) : v)))
    } catch (e) {
        return String(value)
    }
}

// JSON with object keys sorted, to compare values whatever the key order.
function canonical(value) {
    if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
    if (value && typeof value === 'object') {
        return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
    }
    return JSON.stringify(value === undefined ? null : value)
}

function sameValue(a, b) {
    return canonical(a) === canonical(b)
}

function errorInfo(err) {
    if (err && typeof err === 'object' && 'type' in err) {
        return { type: err.type, message: err.message === undefined ? null : String(err.message) }
    }
    return { type: null, message: String(err && err.message ? err.message : err) }
}

// Resolve once predicate() is true (checked every 25 ms), or fail after timeoutMs.
function waitUntil(predicate, timeoutMs, what) {
    return withTimeout(
        new Promise(resolve => {
            const timer = setInterval(() => {
                if (predicate()) {
                    clearInterval(timer)
                    resolve()
                }
            }, 25)
        }),
        timeoutMs,
        what
    )
}

class Client {
    constructor(ctx, label, options = {}) {
        this.ctx = ctx
        this.label = label
        this.sdk = ctx.sdk
        this.events = []
        this._waiters = []
        const cfg = ctx.config
        this.conn = new this.sdk.connection({
            appKey: cfg.appKey,
            isHttpDNS: false,
            https: false,
            url: cfg.ws,
            apiUrl: cfg.rest,
            deviceId: options.deviceId || label,
            delivery: false,
            ...(options.connection || {}),
        })
        const handlers = {}
        for (const name of RECORDED_EVENTS) handlers[name] = data => this._record(name, data)
        this.conn.addEventHandler('kibitz-lane', handlers)
        ctx.clients.push(this)
    }

    _record(name, data) {
        const event = { name, data: plain(data), at: Date.now() }
        this.events.push(event)
        for (const waiter of [...this._waiters]) {
            if (waiter.name === name && waiter.predicate(event.data)) {
                this._waiters.splice(this._waiters.indexOf(waiter), 1)
                waiter.resolve(event.data)
            }
        }
    }

    // The first recorded event `name` (already seen or future) whose data matches.
    waitFor(name, predicate = () => true, timeoutMs = 8000) {
        const seen = this.events.find(e => e.name === name && predicate(e.data))
        if (seen) return Promise.resolve(seen.data)
        const promise = new Promise(resolve => this._waiters.push({ name, predicate, resolve }))
        return withTimeout(promise, timeoutMs, `${this.label} waiting for ${name}`)
    }

    // Wait until `count` events `name` matching `predicate` were recorded; returns them all.
    async waitForCount(name, count, predicate = () => true, timeoutMs = 8000) {
        const deadline = Date.now() + timeoutMs
        while (this.all(name, predicate).length < count) {
            const left = deadline - Date.now()
            const seen = this.all(name, predicate).length
            if (left <= 0) {
                throw new ScenarioFailure(`${this.label}: ${seen}/${count} ${name} after ${timeoutMs} ms`)
            }
            const index = this.events.length
            await withTimeout(
                new Promise(resolve =>
                    this._waiters.push({ name, predicate: () => this.events.length > index, resolve })
                ),
                left,
                `${this.label} waiting for ${count} ${name} (have ${seen})`
            )
        }
        return this.all(name, predicate)
    }

    all(name, predicate = () => true) {
        return this.events.filter(e => e.name === name && predicate(e.data)).map(e => e.data)
    }

    names() {
        return this.events.map(e => e.name)
    }

    get resource() {
        return this.conn.clientResource
    }

    // Resolves with the open() result, rejects with the SDK error.
    open(credentials, timeoutMs = 12000) {
        return withTimeout(this.conn.open(credentials), timeoutMs, `${this.label} open()`)
    }

    // {ok: true} or {ok: false, type, message}; never throws for an SDK rejection.
    async tryOpen(credentials, timeoutMs = 12000) {
        try {
            await this.open(credentials, timeoutMs)
            return { ok: true }
        } catch (err) {
            if (err instanceof ScenarioFailure) throw err
            return { ok: false, ...errorInfo(err) }
        }
    }

    // Build a message with sdk.message.create and send it; resolves with the send ack.
    async send(fields, timeoutMs = 8000) {
        const msg = this.sdk.message.create({ chatType: 'singleChat', ...fields })
        const ack = await withTimeout(this.conn.send(msg), timeoutMs, `${this.label} send()`)
        return { localMsgId: String(ack.localMsgId), serverMsgId: String(ack.serverMsgId) }
    }

    async trySend(fields, timeoutMs = 8000) {
        try {
            return { ok: true, ...(await this.send(fields, timeoutMs)) }
        } catch (err) {
            if (err instanceof ScenarioFailure) throw err
            return { ok: false, ...errorInfo(err) }
        }
    }

    close() {
        try {
            this.conn.close()
        } catch (e) {
            // already closed
        }
    }
}

// REST against the server under test, with Node's fetch. Returns {status, body}.
async function rest(ctx, method, urlPath, { body, token, timeoutMs = 8000 } = {}) {
    const headers = { Accept: 'application/json' }
    const auth = token === undefined ? ctx.config.appToken : token
    if (auth) headers.Authorization = `Bearer ${auth}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const [org, app] = ctx.config.appKey.split('#')
    const url = urlPath.startsWith('/') ? `${ctx.config.rest}/${org}/${app}${urlPath}` : urlPath
    const response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await response.text()
    let parsed = text
    try {
        parsed = text ? JSON.parse(text) : null
    } catch (e) {
        // keep the text
    }
    return { status: response.status, body: parsed }
}

async function restOk(ctx, method, urlPath, options) {
    const result = await rest(ctx, method, urlPath, options)
    check(result.status === 200, `${method} ${urlPath} answered ${result.status}`, result.body)
    return result.body
}

// A 007 user token for `uuid`; `issueTs`/`expire` let a case mint an already-expired one.
function chatUserToken(ctx, uuid, { expire = 3600, issueTs } = {}) {
    const { appId, appCertificate } = ctx.config
    const { ChatTokenBuilder } = require(path.join(__dirname, 'node_modules', 'agora-token'))
    if (issueTs === undefined) return ChatTokenBuilder.buildUserToken(appId, appCertificate, uuid, expire)
    const tokenModule = path.join(__dirname, 'node_modules', 'agora-token', 'src', 'AccessToken2')
    const { AccessToken2, ServiceChat } = require(tokenModule)
    const token = new AccessToken2(appId, appCertificate, issueTs, expire)
    const chat = new ServiceChat(uuid)
    chat.add_privilege(ServiceChat.kPrivilegeUser, expire)
    token.add_service(chat)
    return token.build()
}

// A kibitz access token for a configured user, from the password grant.
async function accessToken(ctx, u) {
    const body = await restOk(ctx, 'POST', '/token', {
        token: null,
        body: { grant_type: 'password', username: u.name, password: u.password },
    })
    return body.access_token
}

async function userUuid(ctx, name) {
    const body = await restOk(ctx, 'GET', `/users/${name}`)
    return body.entities[0].uuid
}

function user(ctx, name) {
    const entry = ctx.config.users && ctx.config.users[name]
    check(entry, `configuration has no user ${name}`)
    return { name, ...entry }
}

function emit(line) {
    process.stdout.write(JSON.stringify(line) + '\n')
}

// Interactive steps: print {"signal": name} and wait until the runner writes a line on stdin
// (used to restart the server in the middle of a case).
let stdinLines = null
function signalAndWait(name, timeoutMs = 30000) {
    if (stdinLines === null) {
        stdinLines = { buffered: [], waiters: [], text: '' }
        process.stdin.setEncoding('utf8')
        process.stdin.on('data', chunk => {
            stdinLines.text += chunk
            let newline
            while ((newline = stdinLines.text.indexOf('\n')) >= 0) {
                const line = stdinLines.text.slice(0, newline)
                stdinLines.text = stdinLines.text.slice(newline + 1)
                const waiter = stdinLines.waiters.shift()
                if (waiter) waiter(line)
                else stdinLines.buffered.push(line)
            }
        })
    }
    emit({ signal: name })
    const next = stdinLines.buffered.length
        ? Promise.resolve(stdinLines.buffered.shift())
        : new Promise(resolve => stdinLines.waiters.push(resolve))
    return withTimeout(next, timeoutMs, `the runner's answer to ${name}`)
}

async function run(cases) {
    const name = process.argv[2]
    const config = JSON.parse(process.env.WEBSDK_CONFIG || '{}')
    const ctx = { config, clients: [], case: name }
    let exitCode = 1
    try {
        const fn = cases[name]
        if (!fn) throw new ScenarioFailure(`unknown case ${name}; known: ${Object.keys(cases).join(', ')}`)
        ctx.sdk = loadSdk(config.sdk || 'agora-chat')
        if (process.env.WEBSDK_VERBOSE && ctx.sdk.logger && ctx.sdk.logger.setLevel) ctx.sdk.logger.setLevel(0)
        const result = await withTimeout(fn(ctx), config.timeoutMs || 18000, `case ${name}`)
        emit({ ok: true, sdk: config.sdk, case: name, ...(result || {}) })
        exitCode = 0
    } catch (err) {
        emit({
            ok: false,
            sdk: config.sdk,
            case: name,
            error: String(err && err.message ? err.message : err),
            details: err && err.details !== undefined ? plain(err.details) : errorInfo(err),
            events: Object.fromEntries(ctx.clients.map(c => [c.label, c.names()])),
        })
    } finally {
        for (const client of ctx.clients) client.close()
        if (stdinLines !== null) process.stdin.pause()
        // The SDK keeps timers (heartbeat, reconnect); leave once stdout is flushed.
        process.stdout.write('', () => process.exit(exitCode))
    }
}

module.exports = {
    Client,
    accessToken,
    ScenarioFailure,
    canonical,
    check,
    chatUserToken,
    errorInfo,
    loadSdk,
    rest,
    restOk,
    run,
    sameValue,
    signalAndWait,
    user,
    userUuid,
    waitUntil,
    withTimeout,
}
