'use strict'
// 1:1 messages between online users: every content type with ext, unknown recipient, and
// the sender's other device receiving what it sent.
const { Client, check, restOk, run, sameValue, user } = require('../driver')

const EXT = { s: 'hello', i: 42, neg: -7, d: 1.5, yes: true, no: false, obj: { k: [1, 'two', null] } }

async function login(ctx, name, deviceId, connection) {
    const u = user(ctx, name)
    const client = new Client(ctx, deviceId || name, { connection })
    await client.open({ user: u.name, pwd: u.password })
    return client
}

function checkIncreasing(ids, what) {
    for (let i = 1; i < ids.length; i++) {
        check(BigInt(ids[i]) > BigInt(ids[i - 1]), `${what}: server ids do not increase`, ids)
    }
}

run({
    async kinds(ctx) {
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const to = user(ctx, 'bob').name
        const from = user(ctx, 'alice').name
        const acks = []
        acks.push(await alice.send({ type: 'txt', to, msg: 'text body', ext: EXT }))
        acks.push(
            await alice.send({
                type: 'custom',
                to,
                customEvent: 'order.paid',
                customExts: { amount: '12.50', items: 3 },
                ext: EXT,
            })
        )
        acks.push(await alice.send({ type: 'cmd', to, action: 'typing', ext: EXT }))
        acks.push(
            await alice.send({
                type: 'loc',
                to,
                lat: 48.8584,
                lng: 2.2945,
                addr: 'Champ de Mars',
                buildingName: 'Tour Eiffel',
                ext: EXT,
            })
        )
        checkIncreasing(acks.map(a => a.serverMsgId), 'acks')

        const txt = await bob.waitFor('onTextMessage')
        const custom = await bob.waitFor('onCustomMessage')
        const cmd = await bob.waitFor('onCmdMessage')
        const loc = await bob.waitFor('onLocationMessage')
        for (const [m, ack] of [[txt, acks[0]], [custom, acks[1]], [cmd, acks[2]], [loc, acks[3]]]) {
            check(m.from === from && m.to === to, 'wrong from/to', m)
            check(m.id === ack.serverMsgId, 'received id is not the acked server id', { m, ack })
            check(m.chatType === 'singleChat', 'wrong chatType', m)
            check(sameValue(m.ext, EXT), 'ext did not round-trip', { got: m.ext, want: EXT })
            check(typeof m.time === 'number' && m.time > 0, 'no time', m)
        }
        check(txt.msg === 'text body', 'text differs', txt)
        check(custom.customEvent === 'order.paid', 'customEvent differs', custom)
        check(sameValue(custom.customExts, { amount: '12.50', items: 3 }), 'customExts differ', custom)
        check(cmd.action === 'typing', 'action differs', cmd)
        check(loc.lat === 48.8584 && loc.lng === 2.2945, 'coordinates differ', loc)
        check(loc.addr === 'Champ de Mars' && loc.buildingName === 'Tour Eiffel', 'address differs', loc)
        return { acks: acks.map(a => a.serverMsgId) }
    },

    async unknown_recipient(ctx) {
        const alice = await login(ctx, 'alice')
        const result = await alice.trySend({ type: 'txt', to: `nobody${Date.now()}`, msg: 'hello?' })
        check(!result.ok, 'sending to an unknown user succeeded', result)
        check(result.type === 204, `expected SDK type 204, got ${result.type}`, result)
        // The connection is still usable afterwards.
        const ok = await alice.send({ type: 'txt', to: user(ctx, 'bob').name, msg: 'still here' })
        return { refused: result, next: ok.serverMsgId }
    },

    async multi_device(ctx) {
        const a1 = await login(ctx, 'alice', 'alice-d1')
        const a2 = await login(ctx, 'alice', 'alice-d2')
        const bob = await login(ctx, 'bob')
        check(a1.resource !== a2.resource, 'both devices got the same resource', [a1.resource, a2.resource])
        const from = user(ctx, 'alice').name
        const to = user(ctx, 'bob').name
        const ack = await a1.send({ type: 'txt', to, msg: 'from device 1', ext: { n: 1 } })
        const atBob = await bob.waitFor('onTextMessage', m => m.msg === 'from device 1')
        const atA2 = await a2.waitFor('onTextMessage', m => m.msg === 'from device 1')
        check(atA2.from === from && atA2.to === to, 'copy on device 2 has wrong from/to', atA2)
        check(sameValue(atA2.ext, { n: 1 }), 'copy lost its ext', atA2)
        check(atBob.id === ack.serverMsgId, 'bob got another id than acked', { atBob, ack })
        // Bob answers; once both alice devices have the answer, device 1 must not have
        // received its own message back.
        await bob.send({ type: 'txt', to: from, msg: 'reply' })
        await a1.waitFor('onTextMessage', m => m.msg === 'reply')
        await a2.waitFor('onTextMessage', m => m.msg === 'reply')
        const echoed = a1.all('onTextMessage', m => m.msg === 'from device 1')
        check(echoed.length === 0, 'the sending device received its own message', echoed)
        check(a2.all('onTextMessage', m => m.msg === 'from device 1').length === 1, 'device 2 got duplicates')
        return { copyId: atA2.id, ackId: ack.serverMsgId }
    },

    async acks(ctx) {
        // Automatic delivery acks (delivery: true) and an explicit read ack travel back to
        // the sender; the server must ack these bodies like messages (notes §3.1, §4.4).
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob', 'bob', { delivery: true })
        const from = user(ctx, 'alice').name
        const sent = await alice.send({ type: 'txt', to: user(ctx, 'bob').name, msg: 'ack me' })
        const got = await bob.waitFor('onTextMessage', m => m.msg === 'ack me')
        const delivered = await alice.waitFor('onDeliveredMessage', a => a.mid === sent.serverMsgId)
        const read = await bob.trySend({ type: 'read', to: from, id: got.id })
        check(read.ok, 'the read ack was not acknowledged', read)
        const seen = await alice.waitFor('onReadMessage', a => a.mid === sent.serverMsgId)
        check(delivered.from === user(ctx, 'bob').name && seen.from === user(ctx, 'bob').name, 'ack from', {
            delivered,
            seen,
        })
        return { delivered: delivered.mid, read: seen.mid }
    },

    async rest_send(ctx) {
        // POST /messages/users (agora-protocol item 4) reaches offline and online SDK clients.
        const from = user(ctx, 'alice').name
        const to = user(ctx, 'bob').name
        const post = async (type, body, ext) => {
            const reply = await restOk(ctx, 'POST', '/messages/users', { body: { from, to: [to], type, body, ext } })
            const id = reply.data && reply.data[to]
            check(typeof id === 'string' && id.length > 0, `no message id for ${to} in the REST reply`, reply)
            return id
        }
        const offlineId = await post('txt', { msg: 'sent while offline' }, { via: 'rest' })
        const bob = await login(ctx, 'bob')
        const offline = await bob.waitFor('onTextMessage', m => m.msg === 'sent while offline')
        check(offline.id === offlineId && offline.from === from, 'offline REST message', { offline, offlineId })
        const ids = {
            txt: await post('txt', { msg: 'rest text' }, EXT),
            custom: await post('custom', { customEvent: 'rest.evt', customExts: { k: 'v' } }, EXT),
            cmd: await post('cmd', { action: 'rest.action' }, EXT),
            loc: await post('loc', { lat: 39.966, lng: 116.322, addr: 'Beijing' }, EXT),
        }
        const txt = await bob.waitFor('onTextMessage', m => m.msg === 'rest text')
        const custom = await bob.waitFor('onCustomMessage')
        const cmd = await bob.waitFor('onCmdMessage')
        const loc = await bob.waitFor('onLocationMessage')
        for (const [m, id] of [[txt, ids.txt], [custom, ids.custom], [cmd, ids.cmd], [loc, ids.loc]]) {
            check(m.id === id, 'received id differs from the REST reply', { m, id })
            check(m.from === from && m.to === to, 'wrong from/to', m)
            check(sameValue(m.ext, EXT), 'ext did not round-trip', { got: m.ext, want: EXT })
        }
        check(custom.customEvent === 'rest.evt' && sameValue(custom.customExts, { k: 'v' }), 'custom', custom)
        check(cmd.action === 'rest.action', 'cmd', cmd)
        check(loc.lat === 39.966 && loc.lng === 116.322 && loc.addr === 'Beijing', 'loc', loc)
        return { ids }
    },

    async too_large(ctx) {
        // Over the 5 KB content limit: refused with the one PERMISSION_DENIED reason the SDK
        // maps ("Sorry, data is too large" → 511), and the connection stays usable.
        const alice = await login(ctx, 'alice')
        const to = user(ctx, 'bob').name
        const refused = await alice.trySend({ type: 'txt', to, msg: 'x'.repeat(6000) })
        check(!refused.ok && refused.type === 511, `expected SDK type 511, got ${JSON.stringify(refused)}`)
        const ok = await alice.send({ type: 'txt', to, msg: 'small' })
        return { refused, next: ok.serverMsgId }
    },
})
