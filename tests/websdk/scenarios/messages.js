'use strict'
// 1:1 messages between online users: every content type with ext, unknown recipient, and
// the sender's other device receiving what it sent.
const { Client, check, run, sameValue, user } = require('../driver')

const EXT = { s: 'hello', i: 42, neg: -7, d: 1.5, yes: true, no: false, obj: { k: [1, 'two', null] } }

async function login(ctx, name, deviceId) {
    const u = user(ctx, name)
    const client = new Client(ctx, deviceId || name)
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
})
