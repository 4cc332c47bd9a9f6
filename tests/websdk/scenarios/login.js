'use strict'
// Login: password, kibitz access token, 007 user token, and each refusal as the SDK reports it.
const { Client, accessToken, check, chatUserToken, run, user, userUuid, waitUntil } = require('../driver')

async function expectConnected(client) {
    await client.waitFor('onConnected')
    check(typeof client.resource === 'string' && client.resource.length > 0, 'no resource adopted')
    return { resource: client.resource }
}

async function expectRefused(client, credentials, type, message) {
    const result = await client.tryOpen(credentials)
    check(!result.ok, 'login unexpectedly succeeded')
    check(result.type === type, `expected SDK type ${type}, got ${result.type}`, result)
    if (message !== undefined) check(result.message === message, `unexpected message`, result)
    return { refused: result }
}

run({
    async password(ctx) {
        const alice = user(ctx, 'alice')
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, pwd: alice.password })
        return expectConnected(client)
    },

    async token(ctx) {
        const alice = user(ctx, 'alice')
        const token = await accessToken(ctx, alice)
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, accessToken: token })
        return expectConnected(client)
    },

    async token007(ctx) {
        const alice = user(ctx, 'alice')
        const token = chatUserToken(ctx, await userUuid(ctx, alice.name))
        check(token.startsWith('007'), 'agora-token did not mint a 007 token')
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, accessToken: token })
        return expectConnected(client)
    },

    async wrong_password(ctx) {
        const alice = user(ctx, 'alice')
        const client = new Client(ctx, 'alice')
        return expectRefused(client, { user: alice.name, pwd: 'not-the-password' }, 1, 'invalid password')
    },

    async unknown_user(ctx) {
        const client = new Client(ctx, 'ghost')
        return expectRefused(client, { user: `ghost${Date.now()}`, pwd: 'whatever' }, 1, 'user not found')
    },

    async unknown_user_token(ctx) {
        // A valid token, presented for a user that does not exist.
        const alice = user(ctx, 'alice')
        const token = await accessToken(ctx, alice)
        const client = new Client(ctx, 'ghost')
        return expectRefused(client, { user: `ghost${Date.now()}`, accessToken: token }, 204)
    },

    async bad_token(ctx) {
        const alice = user(ctx, 'alice')
        const client = new Client(ctx, 'alice')
        return expectRefused(client, { user: alice.name, accessToken: 'this-is-not-a-token' }, 28, 'INVALID_TOKEN')
    },

    async bad_token007(ctx) {
        // Correctly formed, signed for another user's UUID.
        const alice = user(ctx, 'alice')
        const bob = user(ctx, 'bob')
        const token = chatUserToken(ctx, await userUuid(ctx, bob.name))
        const client = new Client(ctx, 'alice')
        return expectRefused(client, { user: alice.name, accessToken: token }, 28, 'INVALID_TOKEN')
    },

    async expired_token007(ctx) {
        const alice = user(ctx, 'alice')
        const now = Math.floor(Date.now() / 1000)
        const token = chatUserToken(ctx, await userUuid(ctx, alice.name), { issueTs: now - 7200, expire: 3600 })
        const client = new Client(ctx, 'alice')
        return expectRefused(client, { user: alice.name, accessToken: token }, 56)
    },

    async token_will_expire_and_renew(ctx) {
        // A 4 s token (3-4 s left, issue_ts is in whole seconds): onTokenWillExpire fires at
        // 4/5 of what is left at login; renewToken swaps in a fresh one.
        const alice = user(ctx, 'alice')
        const uuid = await userUuid(ctx, alice.name)
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, accessToken: chatUserToken(ctx, uuid, { expire: 4 }) })
        await client.waitFor('onTokenWillExpire', () => true, 6000)
        check(client.all('onTokenExpired').length === 0, 'token expired before it was renewed')
        const fresh = chatUserToken(ctx, uuid, { expire: 3600 })
        const renewed = await client.conn.renewToken(fresh)
        check(renewed && renewed.status === true, 'renewToken did not succeed', renewed)
        const drift = Math.abs(Number(renewed.expire) - (Date.now() + 3600 * 1000))
        check(drift < 10000, `renewToken expire is ${renewed.expire}, not about an hour away`, renewed)
        return { expire: renewed.expire }
    },

    async token_expired_event(ctx) {
        const alice = user(ctx, 'alice')
        const uuid = await userUuid(ctx, alice.name)
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, accessToken: chatUserToken(ctx, uuid, { expire: 3 }) })
        await client.waitFor('onTokenExpired', () => true, 6000)
        return { events: client.names() }
    },

    async renew_with_bad_token(ctx) {
        const alice = user(ctx, 'alice')
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, pwd: alice.password })
        let rejected = null
        try {
            await client.conn.renewToken('this-is-not-a-token')
        } catch (err) {
            rejected = err
        }
        check(rejected !== null, 'renewToken accepted a bad token')
        return { rejected: { type: rejected.type, message: String(rejected.message) } }
    },

    async heartbeat(ctx) {
        // conn.onShow() is the SDK's liveness probe: it sends UNREAD and reconnects unless some
        // frame arrives within 8 s (notes §3.1). The probe only runs after 2 s of silence, so
        // the last-inbound timestamp is aged instead of waiting.
        const alice = user(ctx, 'alice')
        const client = new Client(ctx, 'alice')
        await client.open({ user: alice.name, pwd: alice.password })
        await client.waitFor('onConnected')
        const aged = Date.now() - 5000
        client.conn.lastHeartbeat = aged
        client.conn.onShow()
        await waitUntil(() => client.conn.lastHeartbeat > aged, 7000, 'an answer to the UNREAD probe')
        check(client.all('onReconnecting').length === 0, 'the probe made the SDK reconnect', client.names())
        return {}
    },
})
