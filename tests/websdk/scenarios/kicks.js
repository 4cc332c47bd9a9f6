'use strict'
// Server-initiated logouts: each REST operation reaches the right sessions with the SDK code
// of docs/websdk-notes.md §2.3, and the SDK does not reconnect afterwards.
const { Client, accessToken, check, restOk, run, user } = require('../driver')

const KICK = {
    USER_LOGIN_ANOTHER_DEVICE: 206,
    USER_REMOVED: 207,
    USER_KICKED_BY_CHANGE_PASSWORD: 216,
    USER_KICKED_BY_OTHER_DEVICE: 217,
}
// Provision refusal of a deactivated user (PERMISSION_DENIED → "Auth failed").
const AUTH_ERROR = 2

async function login(ctx, name, label, deviceId) {
    const u = user(ctx, name)
    const client = new Client(ctx, label || name, { deviceId: deviceId || label || name })
    await client.open({ user: u.name, pwd: u.password })
    return client
}

// The kicked client reports `type` through onError and onDisconnected, without reconnecting.
async function expectKicked(client, type) {
    const error = await client.waitFor('onError', e => e && e.type === type, 6000)
    const disconnected = await client.waitFor('onDisconnected', () => true, 6000)
    check(disconnected && disconnected.type === type, `onDisconnected carries ${JSON.stringify(disconnected)}`, {
        want: type,
    })
    check(client.all('onReconnecting').length === 0, 'the SDK tried to reconnect after the kick', client.names())
    return { error, disconnected }
}

// `client` is still logged in: a message from alice reaches it.
async function expectAlive(ctx, sender, client, text) {
    await sender.send({ type: 'txt', to: user(ctx, 'bob').name, msg: text })
    await client.waitFor('onTextMessage', m => m.msg === text)
}

run({
    async force_logout(ctx) {
        const bob = user(ctx, 'bob')
        const d1 = await login(ctx, 'bob', 'bob-d1')
        const d2 = await login(ctx, 'bob', 'bob-d2')
        await restOk(ctx, 'GET', `/users/${bob.name}/disconnect`)
        await expectKicked(d1, KICK.USER_KICKED_BY_OTHER_DEVICE)
        await expectKicked(d2, KICK.USER_KICKED_BY_OTHER_DEVICE)
        // Not a ban: logging in again works.
        await login(ctx, 'bob', 'bob-d3')
        return {}
    },

    async password_change(ctx) {
        const bob = user(ctx, 'bob')
        const d1 = await login(ctx, 'bob', 'bob-d1')
        const fresh = `${bob.password}-new`
        await restOk(ctx, 'PUT', `/users/${bob.name}/password`, { body: { newpassword: fresh } })
        await expectKicked(d1, KICK.USER_KICKED_BY_CHANGE_PASSWORD)
        const old = await new Client(ctx, 'bob-old').tryOpen({ user: bob.name, pwd: bob.password })
        check(!old.ok && old.type === 1, 'the old password still logs in', old)
        await new Client(ctx, 'bob-new').open({ user: bob.name, pwd: fresh })
        return {}
    },

    async user_deleted(ctx) {
        const bob = user(ctx, 'bob')
        const d1 = await login(ctx, 'bob', 'bob-d1')
        await restOk(ctx, 'DELETE', `/users/${bob.name}`)
        await expectKicked(d1, KICK.USER_REMOVED)
        return {}
    },

    async deactivated(ctx) {
        const bob = user(ctx, 'bob')
        const token = await accessToken(ctx, bob)
        const d1 = await login(ctx, 'bob', 'bob-d1')
        await restOk(ctx, 'POST', `/users/${bob.name}/deactivate`)
        await expectKicked(d1, KICK.USER_KICKED_BY_OTHER_DEVICE)
        const refused = await new Client(ctx, 'bob-d2').tryOpen({ user: bob.name, accessToken: token })
        check(!refused.ok && refused.type === AUTH_ERROR, `deactivated login: ${JSON.stringify(refused)}`, refused)
        await restOk(ctx, 'POST', `/users/${bob.name}/activate`)
        await new Client(ctx, 'bob-d3').open({ user: bob.name, accessToken: token })
        return { refused }
    },

    async login_elsewhere(ctx) {
        // Run against an app allowing one device per user.
        const d1 = await login(ctx, 'bob', 'bob-d1')
        const d2 = await login(ctx, 'bob', 'bob-d2')
        await expectKicked(d1, KICK.USER_LOGIN_ANOTHER_DEVICE)
        check(d2.all('onDisconnected').length === 0, 'the new device was disconnected too', d2.names())
        const alice = await login(ctx, 'alice')
        await expectAlive(ctx, alice, d2, 'to the new device')
        return {}
    },

    async kick_by_resource(ctx) {
        const bob = user(ctx, 'bob')
        const d1 = await login(ctx, 'bob', 'bob-d1')
        const d2 = await login(ctx, 'bob', 'bob-d2')
        const alice = await login(ctx, 'alice')
        const resource = encodeURIComponent(d1.resource)
        await restOk(ctx, ctx.config.kickMethod || 'DELETE', `/users/${bob.name}/disconnect/${resource}`)
        await expectKicked(d1, KICK.USER_KICKED_BY_OTHER_DEVICE)
        await expectAlive(ctx, alice, d2, 'still here')
        check(d2.all('onDisconnected').length === 0, 'the other device was disconnected too', d2.names())
        return { kicked: d1.resource, kept: d2.resource }
    },

    async same_resource(ctx) {
        // Two tabs of one browser share the SDK's cached device id, hence the resource. The
        // newer login takes over and the older one is kicked (206), as Easemob documents for
        // isFixedDeviceId; a plain close would make the two reconnect and evict each other.
        const tab1 = await login(ctx, 'bob', 'bob-tab1', 'bob-tab')
        const tab2 = await login(ctx, 'bob', 'bob-tab2', 'bob-tab')
        check(tab1.resource === tab2.resource, 'the tabs got different resources', [tab1.resource, tab2.resource])
        await expectKicked(tab1, KICK.USER_LOGIN_ANOTHER_DEVICE)
        const alice = await login(ctx, 'alice')
        await expectAlive(ctx, alice, tab2, 'to the newer tab')
        check(tab2.all('onReconnecting').length === 0, 'the newer tab was evicted', tab2.names())
        return { resource: tab2.resource }
    },
})
