#!/usr/bin/env node
// Mint and inspect AccessToken2 (007) tokens with the official npm `agora-token` package,
// so the Python tests can cross-check kibitz's own implementation against it.
//
// Usage: node token_tool.js < requests.json > results.json
//   stdin:  a JSON array of requests; stdout: a JSON array of results, same order.
//   {op: "chat_user", appId, appCertificate, userUuid, expire}  -> {token}  (ChatTokenBuilder)
//   {op: "chat_app", appId, appCertificate, expire}             -> {token}  (ChatTokenBuilder)
//   {op: "chat_fixed", appId, appCertificate, userUuid, privilege, expire, issueTs, salt}
//                                   -> {token}  (AccessToken2 with a pinned issueTs and salt)
//   {op: "parse", token, appCertificate}
//       -> {parsed, appId, issueTs, expire, salt, services, signatureValid, payloadHex}
// A failing request yields {error: "..."} and does not stop the others.
'use strict'

const zlib = require('zlib')
const { ChatTokenBuilder } = require('agora-token')
const { AccessToken2, ServiceChat } = require('agora-token/src/AccessToken2')

// Renders a parsed service's private fields (Buffers become UTF-8 text).
function describeService(service) {
    const fields = {}
    for (const [key, value] of Object.entries(service)) {
        if (key === '__type' || key === '__privileges') continue
        fields[key.replace(/^__/, '')] = Buffer.isBuffer(value) ? value.toString('utf8') : value
    }
    const privileges = {}
    for (const [key, value] of Object.entries(service.__privileges)) privileges[key] = value
    return { type: service.service_type(), privileges, fields }
}

function handle(req) {
    switch (req.op) {
    case 'chat_user':
        return { token: ChatTokenBuilder.buildUserToken(req.appId, req.appCertificate, req.userUuid, req.expire) }
    case 'chat_app':
        return { token: ChatTokenBuilder.buildAppToken(req.appId, req.appCertificate, req.expire) }
    case 'chat_fixed': {
        // The same steps as ChatTokenBuilder, with the clock and salt pinned.
        const token = new AccessToken2(req.appId, req.appCertificate, req.issueTs, req.expire)
        token.salt = req.salt
        const chat = new ServiceChat(req.userUuid)
        chat.add_privilege(req.privilege, req.expire)
        token.add_service(chat)
        return { token: token.build() }
    }
    case 'parse': {
        const token = new AccessToken2()
        const parsed = token.from_string(req.token)
        let payloadHex = null
        try {
            payloadHex = zlib.inflateSync(Buffer.from(req.token.substring(3), 'base64')).toString('hex')
        } catch (error) {
            payloadHex = null
        }
        return {
            parsed,
            appId: token.appId.toString('utf8'),
            issueTs: token.issueTs,
            expire: token.expire,
            salt: token.salt,
            services: token.services.map(describeService),
            signatureValid: parsed ? token.verifySignature(req.appCertificate) : false,
            payloadHex,
        }
    }
    default:
        throw new Error(`unknown op ${req.op}`)
    }
}

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', chunk => { input += chunk })
process.stdin.on('end', () => {
    const results = JSON.parse(input).map(req => {
        try {
            return handle(req)
        } catch (error) {
            return { error: String(error && error.message ? error.message : error) }
        }
    })
    process.stdout.write(JSON.stringify(results))
})
