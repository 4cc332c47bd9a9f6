'use strict'
// Contacts and the block list through the SDK's own API (agora-protocol-2.md §5, §6):
// requests over REST with the user's login token, events as onContactInvited / onContactAgreed
// / onContactRefuse / onContactAdded / onContactDeleted (RosterBody metas), 1:1 sends that a
// block list or the app's contacts_only refuses. Users alice, bob, carol.
const { Client, ScenarioFailure, check, errorInfo, rest, restOk, run, user, withTimeout } = require('../driver')

const CALL_TIMEOUT_MS = 8000
const CONTACT_EVENTS = ['onContactInvited', 'onContactAgreed', 'onContactRefuse', 'onContactAdded', 'onContactDeleted']

// A client that also records the contact events (not among the driver's recorded events).
async function login(ctx, name, deviceId) {
    const u = user(ctx, name)
    const client = new Client(ctx, deviceId || name)
    const handlers = {}
    for (const event of CONTACT_EVENTS) handlers[event] = e => client._record(event, e)
    client.conn.addEventHandler('kibitz-contacts', handlers)
    await client.open({ user: u.name, pwd: u.password })
    return client
}

// An SDK call (positional arguments), bounded; resolves with its result.
async function call(client, method, ...args) {
    const fn = client.conn[method]
    check(typeof fn === 'function', `${client.label}: the SDK has no ${method}()`)
    return withTimeout(fn.apply(client.conn, args), CALL_TIMEOUT_MS, `${client.label} ${method}()`)
}

// {ok: true, res} or {ok: false, type, message}; a hang stays a failure.
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

function names(ctx, ...roles) {
    return roles.map(r => user(ctx, r).name)
}

function heard(client, event, from) {
    return client.waitFor(event, e => e.from === from)
}

async function befriend(a, b) {
    await call(a, 'addContact', b.conn.user, 'hello')
    await heard(b, 'onContactInvited', a.conn.user)
    await call(b, 'acceptContactInvite', a.conn.user)
    await heard(a, 'onContactAgreed', b.conn.user)
}

// The app's settings (PUT /settings with the app token), for the limit and contacts-only cases.
async function settings(ctx, values) {
    await restOk(ctx, 'PUT', '/settings', { body: values })
}

// Nothing from `from` reached `client` by the time a later marker from `marker` did.
async function sync(client, marker, text) {
    await marker.send({ type: 'txt', to: client.conn.user, msg: text })
    await client.waitFor('onTextMessage', m => m.msg === text)
}

run({
    // A request reaches the invitee with its message; accepting tells the requester's devices
    // (onContactAgreed, onContactAdded) and the accepter's other device (onContactAdded).
    async request_accept(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a1 = await login(ctx, 'alice', 'alice-d1')
        const a2 = await login(ctx, 'alice', 'alice-d2')
        const b1 = await login(ctx, 'bob', 'bob-d1')
        const b2 = await login(ctx, 'bob', 'bob-d2')
        await call(a1, 'addContact', bob, 'hi, it is alice')
        const invited = await heard(b1, 'onContactInvited', alice)
        check(invited.to === bob && invited.status === 'hi, it is alice', 'onContactInvited fields', invited)
        check(invited.type === 'subscribe', 'onContactInvited type', invited)
        await call(b1, 'acceptContactInvite', alice)
        const agreed = {}
        for (const a of [a1, a2]) {
            agreed[a.label] = await heard(a, 'onContactAgreed', bob)
            await heard(a, 'onContactAdded', bob)
        }
        const added = await heard(b2, 'onContactAdded', alice)
        check(added.to === bob, 'onContactAdded fields', added)
        const atA = await call(a1, 'getContacts')
        const atB = await call(b1, 'getContacts')
        check(JSON.stringify(atA.data) === JSON.stringify([bob]), 'alice getContacts', atA)
        check(JSON.stringify(atB.data) === JSON.stringify([alice]), 'bob getContacts', atB)
        // the accepting device hears nothing of its own act
        await sync(b1, a1, 'after accept')
        const own = b1.all('onContactAdded')
        check(own.length === 0, 'the accepting device got onContactAdded', own)
        return { invited, agreed, added }
    },

    // Declining: the requester hears onContactRefuse; no contact either side.
    async decline(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        await call(a, 'addContact', bob, '')
        await heard(b, 'onContactInvited', alice)
        await call(b, 'declineContactInvite', alice)
        const refused = await heard(a, 'onContactRefuse', bob)
        check(refused.type === 'unsubscribed', 'onContactRefuse type', refused)
        const list = await call(a, 'getContacts')
        check(list.data.length === 0, 'a declined request made a contact', list)
        return { refused }
    },

    // Deleting: the other side and the deleter's other device hear onContactDeleted.
    async delete(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a1 = await login(ctx, 'alice', 'alice-d1')
        const a2 = await login(ctx, 'alice', 'alice-d2')
        const b = await login(ctx, 'bob')
        await befriend(a1, b)
        await call(a1, 'deleteContact', bob)
        const deleted = await heard(b, 'onContactDeleted', alice)
        const other = await heard(a2, 'onContactDeleted', bob)
        const list = await call(b, 'getContacts')
        check(list.data.length === 0, 'still a contact after deleteContact', list)
        return { deleted, other }
    },

    // A request made while the invitee is offline is there at its next login.
    async offline_request(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        await call(a, 'addContact', bob, 'while you were away')
        const b = await login(ctx, 'bob')
        const invited = await heard(b, 'onContactInvited', alice)
        check(invited.status === 'while you were away', 'offline request reason', invited)
        await call(b, 'acceptContactInvite', alice)
        await heard(a, 'onContactAgreed', bob)
        return { invited }
    },

    // getContacts, getAllContacts with remarks, getContactsWithCursor page by page.
    async lists(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        await befriend(a, b)
        await befriend(a, c)
        await call(a, 'setContactRemark', { userId: bob, remark: 'Bobby' })
        const plain = await call(a, 'getContacts')
        check(JSON.stringify(plain.data) === JSON.stringify([bob, carol]), 'getContacts', plain)
        const all = await call(a, 'getAllContacts')
        const want = [
            { userId: bob, remark: 'Bobby' },
            { userId: carol, remark: null },
        ]
        const got = all.data.map(x => ({ userId: x.userId, remark: x.remark === undefined ? null : x.remark }))
        check(JSON.stringify(got) === JSON.stringify(want), 'getAllContacts', all)
        const first = await call(a, 'getContactsWithCursor', { pageSize: 1 })
        const p1 = first.data
        check(p1.contacts.length === 1 && p1.contacts[0].userId === bob, 'first page', first)
        check(p1.contacts[0].remark === 'Bobby', 'first page remark', first)
        check(typeof p1.cursor === 'string' && p1.cursor !== '', 'first page cursor', first)
        const second = await call(a, 'getContactsWithCursor', { pageSize: 1, cursor: p1.cursor })
        const p2 = second.data
        check(p2.contacts.length === 1 && p2.contacts[0].userId === carol, 'second page', second)
        check(!p2.cursor, 'the last page has a cursor', second)
        return { plain: plain.data, all: all.data, first: p1, second: p2 }
    },

    // The block list: add, list, the refused send (603, never delivered), remove.
    async blocklist(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const added = await call(b, 'addUsersToBlocklist', { name: [alice, carol] })
        check(JSON.stringify(added.data.userIds) === JSON.stringify([alice, carol]), 'addUsersToBlocklist', added)
        const list = await call(b, 'getBlocklist')
        check(list.data.length === 2 && list.data.includes(alice), 'getBlocklist', list)
        const refused = checkType(await a.trySend({ type: 'txt', to: bob, msg: 'let me in' }), 603, 'a blocked send')
        const request = checkType(await tryCall(a, 'addContact', bob, 'please'), 603, 'a blocked request')
        await call(b, 'removeUserFromBlocklist', { name: alice })
        const after = await call(b, 'getBlocklist')
        check(JSON.stringify(after.data) === JSON.stringify([carol]), 'after removeUserFromBlocklist', after)
        await a.send({ type: 'txt', to: bob, msg: 'unblocked' })
        await b.waitFor('onTextMessage', m => m.msg === 'unblocked')
        const early = b.all('onTextMessage', m => m.msg === 'let me in')
        check(early.length === 0, 'the refused message was delivered', early)
        return { added: added.data, refused, request }
    },

    // Requests that cannot be made: yourself and twice (400 → 17), an unknown user (204).
    async err_request(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        const self = checkType(await tryCall(a, 'addContact', alice, ''), 17, 'a request to oneself')
        const unknown = checkType(await tryCall(a, 'addContact', `nobody-${Date.now()}`, ''), 204, 'a request to nobody')
        await call(a, 'addContact', bob, '')
        const twice = checkType(await tryCall(a, 'addContact', bob, ''), 17, 'a second request')
        const nothing = checkType(await tryCall(a, 'acceptContactInvite', bob), 17, 'accepting no request')
        return { self, unknown, twice, nothing }
    },

    // The app's contacts_per_user: my list full, or theirs (403 … contact max count → 50).
    async err_limits(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        await befriend(a, b)
        await settings(ctx, { contacts_per_user: 1 })
        try {
            const mine = checkType(await tryCall(a, 'addContact', carol, ''), 50, 'a request with my list full')
            const theirs = checkType(await tryCall(c, 'addContact', bob, ''), 50, "a request to a full list")
            return { mine, theirs }
        } finally {
            await settings(ctx, { contacts_per_user: 10000 })
        }
    },

    // Remarks: too long (50), for someone who is no contact (221).
    async err_remark(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        await befriend(a, b)
        const long = checkType(
            await tryCall(a, 'setContactRemark', { userId: bob, remark: 'x'.repeat(101) }),
            50,
            'a remark of 101 characters'
        )
        const stranger = checkType(
            await tryCall(a, 'setContactRemark', { userId: carol, remark: 'who?' }),
            221,
            'a remark for a stranger'
        )
        return { long, stranger }
    },

    // With the app's contacts_only, a message to a stranger fails with 221; a contact's goes.
    async err_contacts_only(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        await befriend(a, b)
        await settings(ctx, { contacts_only: true })
        try {
            const stranger = checkType(await a.trySend({ type: 'txt', to: carol, msg: 'hi' }), 221, 'a send to a stranger')
            await a.send({ type: 'txt', to: bob, msg: 'friends may' })
            await b.waitFor('onTextMessage', m => m.msg === 'friends may')
            return { stranger }
        } finally {
            await settings(ctx, { contacts_only: false })
        }
    },

    // A full block list (the app's blocklist_per_user) refuses the whole batch (400 → 50).
    async err_blocklist_full(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        await settings(ctx, { blocklist_per_user: 1 })
        try {
            const full = checkType(await tryCall(a, 'addUsersToBlocklist', { name: [bob, carol] }), 50, 'two on a list of one')
            const list = await call(a, 'getBlocklist')
            check(list.data.length === 0, 'half a batch was blocked', list)
            return { full }
        } finally {
            await settings(ctx, { blocklist_per_user: 500 })
        }
    },
})
