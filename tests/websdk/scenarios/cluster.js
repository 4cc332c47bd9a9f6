'use strict'
// Two kibitz nodes of one cluster (config.nodes[0] and [1]): clients on different nodes
// chat, and REST on one node reaches sessions on the other.
const { Client, check, restOk, run, user } = require('../driver')

const TOO_MANY = { 'agora-chat': 2, 'easemob-websdk': 214 }
const KICK = { USER_LOGIN_ANOTHER_DEVICE: 206, USER_KICKED_BY_CHANGE_PASSWORD: 216 }

function on(ctx, node, label) {
    const n = ctx.config.nodes[node]
    return new Client(ctx, label, { connection: { url: n.ws, apiUrl: n.rest } })
}

async function login(ctx, node, name, label) {
    const u = user(ctx, name)
    const client = on(ctx, node, label || `${name}-n${node}`)
    await client.open({ user: u.name, pwd: u.password })
    return client
}

async function expectKicked(client, type) {
    await client.waitFor('onError', e => e && e.type === type, 6000)
    const disconnected = await client.waitFor('onDisconnected', () => true, 6000)
    check(disconnected && disconnected.type === type, 'wrong disconnect type', disconnected)
    check(client.all('onReconnecting').length === 0, 'reconnected after a kick', client.names())
}

run({
    async chat(ctx) {
        const alice = await login(ctx, 0, 'alice')
        const bob = await login(ctx, 1, 'bob')
        const a = user(ctx, 'alice').name
        const b = user(ctx, 'bob').name
        const acks = []
        for (let i = 0; i < 5; i++) acks.push(await alice.send({ type: 'txt', to: b, msg: `hi ${i}` }))
        for (let i = 0; i < 5; i++) {
            const m = await bob.waitFor('onTextMessage', m => m.msg === `hi ${i}`)
            check(m.from === a && m.id === acks[i].serverMsgId, 'wrong message on node 1', { m, ack: acks[i] })
        }
        const texts = bob.all('onTextMessage').map(m => m.msg)
        check(texts.length === 5, 'a message arrived twice or not at all', texts)
        await bob.send({ type: 'txt', to: a, msg: 'hello from node 1' })
        await alice.waitFor('onTextMessage', m => m.msg === 'hello from node 1' && m.from === b)
        return { ids: acks.map(x => x.serverMsgId) }
    },

    async kick(ctx) {
        const bob = user(ctx, 'bob')
        const d1 = await login(ctx, 1, 'bob')
        // ctx.config.rest is node 0: the password changes there, the session is on node 1.
        await restOk(ctx, 'PUT', `/users/${bob.name}/password`, { body: { newpassword: `${bob.password}-2` } })
        await expectKicked(d1, KICK.USER_KICKED_BY_CHANGE_PASSWORD)
        return {}
    },

    async login_elsewhere(ctx) {
        const first = await login(ctx, 0, 'bob', 'bob-first')
        await login(ctx, 1, 'bob', 'bob-second')
        await expectKicked(first, KICK.USER_LOGIN_ANOTHER_DEVICE)
        return {}
    },

    async device_limit(ctx) {
        const bob = user(ctx, 'bob')
        const devices = []
        for (let i = 0; i < 4; i++) devices.push(await login(ctx, i % 2, 'bob', `bob-d${i}`))
        const refused = await on(ctx, 0, 'bob-d4').tryOpen({ user: bob.name, pwd: bob.password })
        check(!refused.ok && refused.type === TOO_MANY[ctx.config.sdk], 'fifth device across nodes', refused)
        return { refused }
    },
})
