'use strict'
// Presence and user attributes through the SDK's own API (agora-protocol-2.md §6, §12):
// REST with the user's login token; presence changes as onPresenceStatusChange (NOTIFY
// metas). Users alice and bob (fresh per case).
const { Client, ScenarioFailure, check, errorInfo, run, user, withTimeout } = require('../driver')

const CALL_TIMEOUT_MS = 8000

// `node`: a node of ctx.config.nodes (the cluster lane), else the one server.
async function login(ctx, name, node) {
    const u = user(ctx, name)
    const n = node === undefined ? null : ctx.config.nodes[node]
    const options = n ? { connection: { url: n.ws, apiUrl: n.rest } } : {}
    const client = new Client(ctx, n ? `${name}-n${node}` : name, options)
    client.conn.addEventHandler('kibitz-presence', {
        onPresenceStatusChange: list => client._record('onPresenceStatusChange', list),
    })
    await client.open({ user: u.name, pwd: u.password })
    return client
}

// Methods that resolve with nothing (void) on success.
const VOID = new Set(['publishPresence', 'unsubscribePresence'])

async function call(client, method, ...args) {
    const fn = client.conn[method]
    check(typeof fn === 'function', `${client.label}: the SDK has no ${method}()`)
    const res = await withTimeout(fn.apply(client.conn, args), CALL_TIMEOUT_MS, `${client.label} ${method}()`)
    if (!VOID.has(method)) check(res && res.type === 0, `${method}() resolved without type 0`, res)
    return res
}

async function tryCall(client, method, ...args) {
    try {
        return { ok: true, res: await call(client, method, ...args) }
    } catch (err) {
        if (err instanceof ScenarioFailure) throw err
        return { ok: false, ...errorInfo(err) }
    }
}

function checkType(result, want, what) {
    check(!result.ok, `${what} succeeded`, result)
    check(result.type === want, `${what}: expected SDK type ${want}, got ${result.type}`, result)
    return result
}

// The next onPresenceStatusChange about `uid` that `predicate` accepts.
function change(client, uid, predicate) {
    return client.waitFor('onPresenceStatusChange', list =>
        list.some(p => p.userId === uid && predicate(p))
    ).then(list => list.find(p => p.userId === uid && predicate(p)))
}

function details(p) {
    return Object.fromEntries((p.statusDetails || []).map(d => [d.device, d.status]))
}

run({
    // On one server, or (cluster lane) bob on node 1 and alice on node 0.
    async follow(ctx) {
        const across = Array.isArray(ctx.config.nodes)
        const alice = user(ctx, 'alice').name
        const b = await login(ctx, 'bob', across ? 1 : undefined)
        const sub = await call(b, 'subscribePresence', { usernames: [alice], expiry: 3600 })
        const now = sub.data && sub.data.result
        check(Array.isArray(now) && now.length === 1 && now[0].uid === alice, 'subscribe: no state', sub)
        const a = await login(ctx, 'alice', across ? 0 : undefined)
        const online = await change(b, alice, p => details(p)[a.resource] === 1)
        check(online.expire === Number(now[0].expiry) && online.expire > 0, 'online: wrong expiry', { online, now })
        await call(a, 'publishPresence', { description: 'in a meeting' })
        const published = await change(b, alice, p => p.ext === 'in a meeting')
        a.close()
        const offline = await change(b, alice, p => details(p)[a.resource] === 0)
        check(offline.ext === 'in a meeting', 'offline: the description went', offline)
        const status = await call(b, 'getPresenceStatus', { usernames: [alice] })
        const got = status.data.result[0]
        check(got.uid === alice && got.ext === 'in a meeting', 'getPresenceStatus', status)
        const list = await call(b, 'getSubscribedPresenceList', { pageNum: 1, pageSize: 10 })
        const page = list.data.result
        check(page.totalnum === '1' && page.sublist[0].uid === alice, 'getSubscribedPresenceList', list)
        await call(b, 'unsubscribePresence', { usernames: [alice] })
        const after = await call(b, 'getSubscribedPresenceList', { pageNum: 1, pageSize: 10 })
        check(after.data.result.sublist.length === 0, 'still subscribed', after)
        return { online, published, offline }
    },

    async err_too_long(ctx) {
        const a = await login(ctx, 'alice')
        const long = checkType(
            await tryCall(a, 'publishPresence', { description: 'x'.repeat(1025) }),
            1100,
            'publishing a 1,025-byte description'
        )
        return { long }
    },

    // Run against an app whose presence is switched off.
    async err_disabled(ctx) {
        const a = await login(ctx, 'alice')
        const off = checkType(
            await tryCall(a, 'publishPresence', { description: 'here' }),
            505,
            'publishing with presence off'
        )
        const sub = checkType(
            await tryCall(a, 'subscribePresence', { usernames: [user(ctx, 'bob').name], expiry: 60 }),
            505,
            'subscribing with presence off'
        )
        return { off, sub }
    },

    async user_info(ctx) {
        const alice = user(ctx, 'alice').name
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const set = await call(a, 'updateUserInfo', { nickname: 'Alice & co', avatarurl: 'http://x/a.png' })
        check(set.data.nickname === 'Alice & co', 'updateUserInfo({…}) answer', set)
        await call(a, 'updateUserInfo', 'sign', 'hello')
        const all = await call(b, 'fetchUserInfoById', alice)
        const mine = all.data[alice]
        check(
            mine && mine.nickname === 'Alice & co' && mine.avatarurl === 'http://x/a.png' && mine.sign === 'hello',
            'fetchUserInfoById',
            all
        )
        const some = await call(b, 'fetchUserInfoById', [alice], ['sign'])
        check(JSON.stringify(some.data[alice]) === '{"sign":"hello"}', 'fetchUserInfoById with keys', some)
        return { all: all.data, some: some.data }
    },

    // The SDK has no number of its own for 900/901: a 400 it does not list is 17, with the
    // server's description as the message.
    async err_user_info(ctx) {
        const a = await login(ctx, 'alice')
        const many = Array.from({ length: 101 }, (_, i) => `u${i}`)
        const count = checkType(await tryCall(a, 'fetchUserInfoById', many), 17, 'fetching 101 users')
        check(/user info of at most 100/.test(count.message), 'the 900 description', count)
        const size = checkType(
            await tryCall(a, 'updateUserInfo', { ext: 'x'.repeat(2048) }),
            17,
            'setting more than 2 KB'
        )
        check(/at most 2048 bytes/.test(size.message), 'the 901 description', size)
        return { count, size }
    },
})
