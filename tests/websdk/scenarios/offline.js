'use strict'
// Offline delivery: messages sent while the receiver is away arrive at its next login, in
// order, exactly once; a later login gets none of them again. The `send`/`receive` pair
// lets pytest restart the server in between.
const { Client, check, run, signalAndWait, user } = require('../driver')

async function login(ctx, name, deviceId) {
    const u = user(ctx, name)
    const client = new Client(ctx, deviceId || name)
    await client.open({ user: u.name, pwd: u.password })
    return client
}

async function sendBatch(ctx, sender, count, tag) {
    const to = user(ctx, 'bob').name
    const ids = []
    for (let i = 0; i < count; i++) {
        const ack = await sender.send({ type: 'txt', to, msg: `${tag}-${i}`, ext: { seq: i } })
        ids.push(ack.serverMsgId)
    }
    return ids
}

async function receiveBatch(ctx, deviceId, count, tag) {
    const bob = await login(ctx, 'bob', deviceId)
    const mine = m => typeof m.msg === 'string' && m.msg.startsWith(`${tag}-`)
    await bob.waitForCount('onTextMessage', count, mine, 10000)
    await bob.waitFor('onOfflineMessageSyncFinish', () => true, 5000)
    const got = bob.all('onTextMessage', mine)
    check(bob.all('onOfflineMessageSyncStart').length === 1, 'no single onOfflineMessageSyncStart', bob.names())
    const texts = got.map(m => m.msg)
    const want = Array.from({ length: count }, (_, i) => `${tag}-${i}`)
    check(JSON.stringify(texts) === JSON.stringify(want), 'offline messages out of order or duplicated', texts)
    return { bob, got }
}

run({
    async in_order(ctx) {
        const count = ctx.config.count || 12
        const alice = await login(ctx, 'alice')
        const ids = await sendBatch(ctx, alice, count, 'offline')
        const { bob, got } = await receiveBatch(ctx, 'bob-d1', count, 'offline')
        check(JSON.stringify(got.map(m => m.id)) === JSON.stringify(ids), 'ids differ from the acks', { ids })
        // Log out, log in again on a new connection: nothing may come back. A marker sent
        // now arrives after anything the server would (wrongly) redeliver.
        bob.close()
        await bob.waitFor('onDisconnected', () => true, 5000)
        const again = await login(ctx, 'bob', 'bob-d2')
        await alice.send({ type: 'txt', to: user(ctx, 'bob').name, msg: 'marker' })
        await again.waitFor('onTextMessage', m => m.msg === 'marker')
        const repeated = again.all('onTextMessage', m => m.msg !== 'marker')
        check(repeated.length === 0, 'acknowledged messages were delivered again', repeated.map(m => m.msg))
        return { delivered: got.length }
    },

    async send(ctx) {
        const count = ctx.config.count || 5
        const alice = await login(ctx, 'alice')
        return { ids: await sendBatch(ctx, alice, count, 'restart') }
    },

    async receive(ctx) {
        const count = ctx.config.count || 5
        const { got } = await receiveBatch(ctx, 'bob-d1', count, 'restart')
        const ids = got.map(m => m.id)
        if (ctx.config.expectIds) {
            check(JSON.stringify(ids) === JSON.stringify(ctx.config.expectIds), 'ids differ across the restart', {
                ids,
                want: ctx.config.expectIds,
            })
        }
        return { ids }
    },

    async online_restart(ctx) {
        // Both users stay logged in while the server restarts: the SDK reconnects by itself
        // (notes §3.1) and messaging resumes; nothing is lost or repeated.
        const options = { connection: { autoReconnectNumMax: 15 } }
        const a = user(ctx, 'alice')
        const b = user(ctx, 'bob')
        const alice = new Client(ctx, 'alice', options)
        const bob = new Client(ctx, 'bob', options)
        await alice.open({ user: a.name, pwd: a.password })
        await bob.open({ user: b.name, pwd: b.password })
        await alice.send({ type: 'txt', to: b.name, msg: 'before' })
        await bob.waitFor('onTextMessage', m => m.msg === 'before')
        await signalAndWait('restart')
        // Sent at once: if the SDK has not reconnected yet it holds the message and sends it
        // after the new PROVISION; either way it must arrive once.
        const during = alice.send({ type: 'txt', to: b.name, msg: 'during' }, 20000)
        await alice.waitForCount('onConnected', 2, () => true, 20000)
        await bob.waitForCount('onConnected', 2, () => true, 20000)
        await during
        await alice.send({ type: 'txt', to: b.name, msg: 'after' })
        await bob.waitFor('onTextMessage', m => m.msg === 'after')
        const texts = bob.all('onTextMessage').map(m => m.msg)
        const want = ['before', 'during', 'after']
        check(JSON.stringify(texts) === JSON.stringify(want), 'messages lost, repeated or reordered', texts)
        return { reconnects: bob.all('onReconnecting').length }
    },

    async several_queues(ctx) {
        // Two senders while bob is away: his UNREAD lists two queues, which the SDK pulls in
        // parallel (notes §5.3); each arrives in order, once, between one Start and one Finish.
        const count = 6
        const alice = await login(ctx, 'alice')
        const carol = await login(ctx, 'carol')
        const to = user(ctx, 'bob').name
        for (let i = 0; i < count; i++) {
            await alice.send({ type: 'txt', to, msg: `a-${i}` })
            await carol.send({ type: 'txt', to, msg: `c-${i}` })
        }
        const bob = await login(ctx, 'bob')
        await bob.waitForCount('onTextMessage', 2 * count, () => true, 10000)
        await bob.waitFor('onOfflineMessageSyncFinish', () => true, 5000)
        const texts = bob.all('onTextMessage').map(m => m.msg)
        for (const tag of ['a', 'c']) {
            const mine = texts.filter(t => t.startsWith(`${tag}-`))
            const want = Array.from({ length: count }, (_, i) => `${tag}-${i}`)
            check(JSON.stringify(mine) === JSON.stringify(want), `queue ${tag} out of order or duplicated`, texts)
        }
        check(texts.length === 2 * count, 'extra messages', texts)
        check(bob.all('onOfflineMessageSyncStart').length === 1, 'Start fired more than once', bob.names())
        return { delivered: texts.length }
    },

    async own_copy_offline(ctx) {
        // A device that is offline when another device of the same user sends gets the copy
        // at its next login (multi-device sync covers offline devices too).
        const b = user(ctx, 'bob')
        const phone = new Client(ctx, 'bob-phone')
        await phone.open({ user: b.name, pwd: b.password })
        phone.close()
        await phone.waitFor('onDisconnected', () => true, 5000)
        const laptop = await login(ctx, 'bob', 'bob-laptop')
        const ack = await laptop.send({ type: 'txt', to: user(ctx, 'alice').name, msg: 'sent from the laptop' })
        const again = new Client(ctx, 'bob-phone-again', { deviceId: 'bob-phone' })
        await again.open({ user: b.name, pwd: b.password })
        const copy = await again.waitFor('onTextMessage', m => m.msg === 'sent from the laptop', 8000)
        check(copy.from === b.name && copy.to === user(ctx, 'alice').name, 'copy from/to', copy)
        check(copy.id === ack.serverMsgId, 'copy id differs from the ack', { copy, ack })
        return { id: copy.id }
    },
})
