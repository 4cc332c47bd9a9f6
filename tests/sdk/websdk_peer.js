'use strict'
// The official Web SDK as the peer of a Python client (tests/sdk/test_interop_websdk.py).
// Built on the Web SDK lane's driver; configuration as there (env WEBSDK_CONFIG), with
// users {web, py}.
const path = require('path')
const { Client, run, signalAndWait, user } = require(path.join(__dirname, '..', 'websdk', 'driver'))

const EXT = { s: 'hello', i: 42, d: 1.5, yes: true, obj: { k: [1, 'two', null] } }

async function login(ctx) {
    const web = user(ctx, 'web')
    const client = new Client(ctx, 'web')
    await client.open({ user: web.name, pwd: web.password })
    return client
}

function simple(m) {
    return {
        id: m.id, type: m.type, from: m.from, to: m.to, time: m.time, ext: m.ext,
        msg: m.msg, action: m.action, customEvent: m.customEvent, customExts: m.customExts,
        lat: m.lat, lng: m.lng, addr: m.addr,
    }
}

run({
    // Python sends one message of each kind: wait for all four, report what arrived.
    async receive(ctx) {
        const client = await login(ctx)
        await signalAndWait('ready')
        const kinds = ['onTextMessage', 'onCustomMessage', 'onCmdMessage', 'onLocationMessage']
        for (const kind of kinds) await client.waitFor(kind, () => true, 12000)
        const got = client.events.filter(e => kinds.includes(e.name)).map(e => simple(e.data))
        return { messages: got }
    },

    // The Web SDK sends one message of each kind to the Python user.
    async send(ctx) {
        const client = await login(ctx)
        const to = user(ctx, 'py').name
        const acks = []
        acks.push(await client.send({ type: 'txt', to, msg: 'from the web', ext: EXT }))
        acks.push(await client.send({ type: 'custom', to, customEvent: 'gift', customExts: { n: '3' }, ext: EXT }))
        acks.push(await client.send({ type: 'cmd', to, action: 'typing', ext: EXT }))
        acks.push(await client.send({ type: 'loc', to, lat: 48.8584, lng: 2.2945, addr: 'Paris', ext: EXT }))
        return { acks: acks.map(a => a.serverMsgId), ext: EXT }
    },
})
