'use strict'
// Groups through the SDK's own API (agora-protocol-2.md §3): management over REST with the
// user's login token, events as onGroupEvent (MUCBody metas), group messages over msync.
// Every case creates its own group; users alice (owner), bob, carol, dave.
const { Client, ScenarioFailure, check, errorInfo, rest, restOk, run, user, withTimeout } = require('../driver')

const CALL_TIMEOUT_MS = 8000

// A client that also records onGroupEvent (not among the driver's recorded events).
async function login(ctx, name, deviceId) {
    const u = user(ctx, name)
    const client = new Client(ctx, deviceId || name)
    client.conn.addEventHandler('kibitz-groups', { onGroupEvent: e => client._record('onGroupEvent', e) })
    await client.open({ user: u.name, pwd: u.password })
    return client
}

// An SDK API call on `client` (a promise-returning method), bounded; success is type 0.
async function call(client, method, params) {
    const fn = client.conn[method]
    check(typeof fn === 'function', `${client.label}: the SDK has no ${method}()`)
    const res = await withTimeout(fn.call(client.conn, params), CALL_TIMEOUT_MS, `${client.label} ${method}()`)
    check(res && res.type === 0, `${method}() resolved without type 0`, res)
    return res
}

// The server's raw answer to a request the SDK makes, with the client's login token (for
// failure reports: what the SDK was given).
async function raw(ctx, client, method, path, body) {
    const answer = await rest(ctx, method, path, { body, token: client.conn.context.accessToken })
    return { request: `${method} ${path}`, body: body === undefined ? null : body, ...answer }
}

// {ok: true, res} or {ok: false, type, message}; a hang stays a failure.
async function tryCall(client, method, params) {
    try {
        return { ok: true, res: await call(client, method, params) }
    } catch (err) {
        if (err instanceof ScenarioFailure) throw err
        return { ok: false, ...errorInfo(err) }
    }
}

function groupEvent(client, operation, groupId, predicate = () => true) {
    return client.waitFor('onGroupEvent', e => e.operation === operation && e.id === groupId && predicate(e))
}

async function create(client, fields) {
    const res = await call(client, 'createGroupVNext', {
        groupName: 'lane group',
        description: 'made by the lane',
        members: [],
        ...fields,
    })
    const groupId = res && res.data && res.data.groupId
    check(typeof groupId === 'string' && /^\d+$/.test(groupId), 'createGroupVNext gave no groupId', res)
    return groupId
}

// Wait until each [client, operation] has the group's event and has finished pulling the
// queue it came in: `from` then sends a 1:1 text to every one of them, which the SDK pulls
// only after the pending queue before it. (A notice for the group's message queue that
// arrives while its event queue is pending is dropped by the SDK — see message_right_after_event.)
async function settled(groupId, from, pairs) {
    const marker = `settled ${groupId} ${Date.now()}`
    for (const [client, operation] of pairs) await groupEvent(client, operation, groupId)
    const self = from.conn.user
    const others = [...new Set(pairs.map(([client]) => client.conn.user).filter(u => u !== self))]
    check(others.length > 0, 'settled() needs another user to write to') // own devices get copies
    for (const to of others) await from.send({ type: 'txt', to, msg: marker })
    for (const [client] of pairs) await client.waitFor('onTextMessage', m => m.msg === marker)
}

function names(ctx, ...roles) {
    return roles.map(r => user(ctx, r).name)
}

// Sent-by-the-app error: the SDK's type must be `want`.
function checkType(result, want, what) {
    check(!result.ok, `${what} succeeded`, result)
    check(result.type === want, `${what}: expected SDK type ${want}, got ${result.type}`, result)
    return result
}

run({
    // Case 1: createGroupVNext (and the deprecated createGroup) with members; the member
    // hears directJoined with the name, the creator's other device create, the acting one nothing.
    async create(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a1 = await login(ctx, 'alice', 'alice-d1')
        const a2 = await login(ctx, 'alice', 'alice-d2')
        const b = await login(ctx, 'bob')
        const groupId = await create(a1, { groupName: 'Kite flyers', members: [bob] })
        const joined = await groupEvent(b, 'directJoined', groupId)
        check(joined.from === alice && joined.name === 'Kite flyers', 'directJoined fields', joined)
        const created = await groupEvent(a2, 'create', groupId)
        check(created.from === alice, 'create fields', created)

        const legacy = await call(a1, 'createGroup', {
            data: {
                groupname: 'Legacy',
                desc: 'deprecated call',
                members: [bob],
                public: false,
                approval: false,
                allowinvites: true,
                inviteNeedConfirm: false,
                maxusers: 50,
            },
        })
        const legacyId = legacy && legacy.data && legacy.data.groupid
        check(typeof legacyId === 'string' && legacyId !== groupId, 'createGroup gave no data.groupid', legacy)
        await groupEvent(b, 'directJoined', legacyId, e => e.name === 'Legacy')
        await groupEvent(a2, 'create', legacyId)

        // The acting device is not told of its own change: once a later 1:1 message has
        // reached it, it still has no create event.
        await b.send({ type: 'txt', to: alice, msg: 'sync point' })
        await a1.waitFor('onTextMessage', m => m.msg === 'sync point')
        const own = a1.all('onGroupEvent', e => e.operation === 'create')
        check(own.length === 0, 'the creating device got its own create event', own)
        return { groupId, legacyId, joined, created }
    },

    // Case 2: a group text reaches the members (online now, and offline at send time),
    // the sender's other device, and never the sending session.
    async message(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a1 = await login(ctx, 'alice', 'alice-d1')
        const a2 = await login(ctx, 'alice', 'alice-d2')
        const b = await login(ctx, 'bob')
        const groupId = await create(a1, { members: [bob, carol] })
        await settled(groupId, a1, [[b, 'directJoined'], [a2, 'create']])
        const ext = { k: 'v', n: 3 }
        const ack = await a1.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'hello group', ext })
        const atBob = await b.waitFor('onTextMessage', m => m.msg === 'hello group')
        const atA2 = await a2.waitFor('onTextMessage', m => m.msg === 'hello group')
        for (const m of [atBob, atA2]) {
            check(m.chatType === 'groupChat', 'wrong chatType', m)
            check(m.from === alice && m.to === groupId, 'wrong from/to', m)
            check(m.id === ack.serverMsgId, 'received id is not the acked server id', { m, ack })
            check(m.ext && m.ext.k === 'v' && m.ext.n === 3, 'ext did not round-trip', m)
        }
        // Bob answers in the group; once the sending session has the answer it must not
        // have received its own message.
        await b.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'hi alice' })
        const reply = await a1.waitFor('onTextMessage', m => m.msg === 'hi alice')
        check(reply.from === bob && reply.to === groupId && reply.chatType === 'groupChat', 'reply', reply)
        const echoed = a1.all('onTextMessage', m => m.msg === 'hello group')
        check(echoed.length === 0, 'the sending session received its own group message', echoed)
        check(b.all('onTextMessage', m => m.msg === 'hi alice').length === 0, 'bob got his own reply back')

        const c = await login(ctx, 'carol')
        const atCarol = await c.waitFor('onTextMessage', m => m.msg === 'hello group')
        check(atCarol.chatType === 'groupChat' && atCarol.from === alice && atCarol.to === groupId, 'carol', atCarol)
        check(atCarol.id === ack.serverMsgId, 'carol got another id', { atCarol, ack })
        await c.waitFor('onTextMessage', m => m.msg === 'hi alice')
        check(c.all('onTextMessage', m => m.msg === 'hello group').length === 1, 'carol got duplicates')
        return { groupId, id: ack.serverMsgId }
    },

    // Case 2': what an app does all the time — change the group and post about it at once.
    // Each round fires modifyGroup (updateInfo to bob) and a group text together; bob must
    // get every text and every updateInfo. The server files the event in bob's queue named
    // after the group (`{id}@easemob.com`) and the text in `{id}@conference.easemob.com`:
    // the SDK keeps pending queues by name only (agora-protocol-2.md §2.6), so the notice
    // of whichever comes second while the first is being pulled is dropped, and that text
    // or event waits for the next UNREAD (a heartbeat after 30 s of silence, or a login).
    async message_right_after_event(ctx) {
        const [bob] = names(ctx, 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { members: [bob] })
        await settled(groupId, a, [[b, 'directJoined']])
        const rounds = ctx.config.rounds || 8
        for (let i = 0; i < rounds; i++) {
            await Promise.all([
                call(a, 'modifyGroup', { groupId, description: `round ${i}` }),
                a.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: `round ${i}` }),
            ])
        }
        const texts = () => b.all('onTextMessage', m => m.to === groupId).length
        const updates = () => b.all('onGroupEvent', e => e.operation === 'updateInfo' && e.id === groupId).length
        try {
            await b.waitForCount('onTextMessage', rounds, m => m.to === groupId, 4000)
            await b.waitForCount('onGroupEvent', rounds + 1, e => e.id === groupId, 4000)
        } catch (err) {
            throw new ScenarioFailure(`bob got ${texts()}/${rounds} texts and ${updates()}/${rounds} updateInfo`, {
                texts: texts(),
                updates: updates(),
            })
        }
        return { texts: texts(), updates: updates() }
    },

    // Case 3a: details and member lists.
    async info(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const groupId = await create(a, {
            groupName: 'Info group',
            description: 'about info',
            members: [bob, carol],
            maxMemberCount: 30,
            extension: '{"color":"blue"}',
        })
        const info = await call(a, 'getGroupInfo', { groupId })
        check(Array.isArray(info.data) && info.data.length === 1, 'getGroupInfo data is not one item', info)
        const g = info.data[0]
        const want = {
            id: groupId,
            name: 'Info group',
            description: 'about info',
            owner: alice,
            maxusers: 30,
            affiliations_count: 3,
            custom: '{"color":"blue"}',
            public: false,
            membersonly: false,
            mute: false,
        }
        for (const [k, v] of Object.entries(want)) check(g[k] === v, `getGroupInfo ${k}: ${g[k]} != ${v}`, g)
        for (const k of ['allowinvites', 'shieldgroup']) check(typeof g[k] === 'boolean', `getGroupInfo ${k}`, g)
        check(typeof g.created === 'number' && g.created > 0, 'getGroupInfo created', g)
        check(typeof g.avatar === 'string', 'getGroupInfo avatar', g)
        const owners = g.affiliations.filter(x => x.owner === alice)
        const plain = g.affiliations.filter(x => 'member' in x).map(x => x.member).sort()
        check(owners.length === 1 && plain.join() === [bob, carol].sort().join(), 'affiliations', g.affiliations)
        check(g.affiliations.every(x => typeof x.joined_time === 'number'), 'affiliations joined_time', g)

        const listed = await call(a, 'listGroupMembers', { groupId, pageNum: 1, pageSize: 20 })
        check(Array.isArray(listed.data) && listed.data.length === 3, 'listGroupMembers data', listed)
        check(listed.data[0].owner === alice, 'listGroupMembers: the owner first', listed.data)
        const listedNames = listed.data.map(x => x.owner || x.member).sort()
        check(listedNames.join() === [alice, bob, carol].sort().join(), 'listGroupMembers names', listed.data)

        const members = await call(a, 'getGroupMembers', { groupId, limit: 2 })
        const page = members.data && members.data.members
        check(Array.isArray(page) && page.length === 2, 'getGroupMembers page of 2', members)
        check(page[0].role === 'owner' && page[0].userId === alice, 'getGroupMembers owner', page)
        check(page.every(m => typeof m.joinedTime === 'number'), 'getGroupMembers joinedTime', page)
        check(typeof members.data.cursor === 'string' && members.data.cursor, 'getGroupMembers cursor', members)
        const next = await call(a, 'getGroupMembers', { groupId, limit: 2, cursor: members.data.cursor })
        const all = [...page, ...next.data.members]
        check(all.length === 3 && all.slice(1).every(m => m.role === 'member'), 'getGroupMembers rest', all)
        check(!next.data.cursor, 'getGroupMembers: a cursor after the last page', next.data)
        return { info: g, members: all }
    },

    // Case 3a': getJoinedGroups without flags (/users/{me}/joined_chatgroups) and getGroup.
    async joined(ctx) {
        const [bob] = names(ctx, 'bob')
        const a = await login(ctx, 'alice')
        const ids = [await create(a, { groupName: 'J1', members: [bob] }), await create(a, { groupName: 'J2' })]
        const res = await call(a, 'getJoinedGroups', { pageNum: 1, pageSize: 20 })
        check(Array.isArray(res.data), 'getJoinedGroups data', res)
        check(res.data.every(g => (g.role || g.permission) === 'owner'), 'getJoinedGroups role', res.data)
        const got = res.data.map(g => `${g.groupid}:${g.groupname}`).sort()
        check(got.join() === [`${ids[0]}:J1`, `${ids[1]}:J2`].sort().join(), 'getJoinedGroups groups', res.data)
        const legacy = await call(a, 'getGroup', {})
        check(Array.isArray(legacy.data) && legacy.data.length === 2, 'getGroup data', legacy)
        check(legacy.data.every(g => ids.includes(g.groupid)), 'getGroup groupid', legacy.data)
        return { joined: res.data }
    },

    // Case 3a'': getJoinedGroups with needAffiliations/needRole (/chatgroups/user/{me}).
    async joined_with_role(ctx) {
        const [bob] = names(ctx, 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { groupName: 'Roles', members: [bob] })
        const params = { pageNum: 0, pageSize: 20, needAffiliations: true, needRole: true }
        const got = await tryCall(b, 'getJoinedGroups', params)
        if (!got.ok) {
            const query = 'pagenum=0&pagesize=20&needAffiliations=true&needRole=true'
            const answer = await raw(ctx, b, 'GET', `/chatgroups/user/${bob}?${query}`)
            throw new ScenarioFailure(`getJoinedGroups with needRole was refused (type ${got.type})`, { got, answer })
        }
        const res = got.res
        check(Array.isArray(res.entities) && res.entities.length === 1, 'getJoinedGroups entities', res)
        const g = res.entities[0]
        check(g.groupId === groupId && g.groupName === 'Roles', 'getJoinedGroups id/name', g)
        check(g.role === 'member' && g.affiliationsCount === 2, 'getJoinedGroups role/count', g)
        return { entities: res.entities }
    },

    // Case 3b: modifyGroup, setGroupAdmin/removeGroupAdmin, changeGroupOwner.
    async manage(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { groupName: 'Before', members: [bob] })

        const modified = await call(a, 'modifyGroup', { groupId, groupName: 'After', description: 'new words' })
        const m = modified.data
        check(m && m.groupname === true && m.description === true, 'modifyGroup', modified)
        const update = await groupEvent(b, 'updateInfo', groupId)
        check(update.from === alice && update.detail && update.detail.name === 'After', 'updateInfo detail', update)
        check(update.detail.description === 'new words', 'updateInfo description', update)

        const admin = await call(a, 'setGroupAdmin', { groupId, username: bob })
        check(admin.data && admin.data.newadmin === bob && admin.data.result === 'success', 'setGroupAdmin', admin)
        const setAdmin = await groupEvent(b, 'setAdmin', groupId)
        check(setAdmin.from === alice && setAdmin.userId === bob, 'setAdmin fields', setAdmin)
        const admins = await call(a, 'getGroupAdmin', { groupId })
        check(Array.isArray(admins.data) && admins.data.join() === bob, 'getGroupAdmin', admins)
        const unadmin = await call(a, 'removeGroupAdmin', { groupId, username: bob })
        const u = unadmin.data
        check(u && u.oldadmin === bob && u.result === 'success', 'removeGroupAdmin', unadmin)
        const removeAdmin = await groupEvent(b, 'removeAdmin', groupId)
        check(removeAdmin.from === alice, 'removeAdmin fields', removeAdmin)

        const owner = await call(a, 'changeGroupOwner', { groupId, newOwner: bob })
        check(owner.data && owner.data.newowner === true, 'changeGroupOwner', owner)
        const changed = await groupEvent(b, 'changeOwner', groupId)
        check(changed.from === alice, 'changeOwner fields', changed)
        const info = await call(b, 'getGroupInfo', { groupId })
        check(info.data[0].owner === bob && info.data[0].name === 'After', 'owner after the transfer', info.data[0])
        return { update, setAdmin, changed }
    },

    // Case 3c: removeGroupMember, leaveGroup, joinGroup (public open group), destroyGroup.
    async membership(ctx) {
        const [alice, bob, carol, dave] = names(ctx, 'alice', 'bob', 'carol', 'dave')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        const d = await login(ctx, 'dave')
        const open = { groupName: 'Open', isPublic: true, needApprovalToJoin: false }
        const groupId = await create(a, { ...open, members: [bob, carol] })

        const removed = await call(a, 'removeGroupMember', { groupId, username: carol })
        const r = removed.data
        check(r && r.result === true && r.user === carol, 'removeGroupMember result/user', removed)
        check(r.action === 'remove_member' && r.groupid === groupId, 'removeGroupMember action/groupid', removed)
        const kicked = await groupEvent(c, 'removeMember', groupId)
        check(kicked.from === alice, 'removeMember fields', kicked)
        const absence = await groupEvent(b, 'memberAbsence', groupId)
        check(absence.from === carol, 'memberAbsence (removed) from', absence)

        const joined = await call(d, 'joinGroup', { groupId, message: 'let me in' })
        const j = joined.data
        check(j && j.result === true && j.user === dave, 'joinGroup result/user', joined)
        check(j.id === groupId && typeof j.action === 'string', 'joinGroup id/action', joined)
        const presence = await groupEvent(b, 'memberPresence', groupId, e => e.from === dave)
        const atOwner = await groupEvent(a, 'memberPresence', groupId, e => e.from === dave)
        check(presence.memberCount === 3 && atOwner.memberCount === 3, 'memberPresence memberCount', presence)

        const left = await call(b, 'leaveGroup', { groupId })
        check(left.data && left.data.result === true, 'leaveGroup', left)
        const gone = await groupEvent(a, 'memberAbsence', groupId, e => e.from === bob)
        await groupEvent(d, 'memberAbsence', groupId, e => e.from === bob)

        const destroyed = await call(a, 'destroyGroup', { groupId })
        const x = destroyed.data
        check(x && x.id === groupId && x.success === true, 'destroyGroup', destroyed)
        const destroy = await groupEvent(d, 'destroy', groupId)
        check(destroy.from === alice, 'destroy fields', destroy)
        return { kicked, absence, presence, atOwner, gone, destroy }
    },

    // Case 4: errors with the SDK's codes (agora-protocol-2.md §1.5, §2.5, §3.7).
    async err_send(ctx) {
        const [bob] = names(ctx, 'bob')
        const a = await login(ctx, 'alice')
        const d = await login(ctx, 'dave')
        const groupId = await create(a, { members: [bob] })
        const notMember = checkType(
            await d.trySend({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'let me talk' }),
            602,
            'a non-member sending to the group'
        )
        const unknown = checkType(
            await a.trySend({ type: 'txt', chatType: 'groupChat', to: '999999999999999999', msg: 'anyone?' }),
            605,
            'a message to an unknown group'
        )
        // The connection stays usable.
        const ok = await a.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'still here' })
        return { notMember, unknown, next: ok.serverMsgId }
    },

    // Case 5: group read receipts (agora-protocol-2.md §8.2), switched on for the app: the
    // sender asks with msgConfig.allowGroupAck; each reader's receipt reaches it as
    // onReadMessage with groupReadCount; getGroupMsgReadUser lists the readers.
    async read_receipts(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        await restOk(ctx, 'PUT', '/settings', { body: { group_read_receipts: true } })
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        const groupId = await create(a, { members: [bob, carol] })
        await settled(groupId, a, [[b, 'directJoined'], [c, 'directJoined']])
        const sent = await a.send({
            type: 'txt', chatType: 'groupChat', to: groupId, msg: 'read me', msgConfig: { allowGroupAck: true },
        })
        const atBob = await b.waitFor('onTextMessage', m => m.msg === 'read me')
        check(atBob.msgConfig && atBob.msgConfig.allowGroupAck === true, 'msgConfig not received', atBob)
        await c.waitFor('onTextMessage', m => m.msg === 'read me')
        await b.send({ type: 'read', chatType: 'groupChat', to: groupId, id: atBob.id, ackContent: 'seen it' })
        const first = await a.waitFor('onReadMessage', r => r.mid === sent.serverMsgId && r.groupReadCount === 1)
        check(first.from === bob && first.ackContent === 'seen it', 'first receipt fields', first)
        await c.send({ type: 'read', chatType: 'groupChat', to: groupId, id: atBob.id })
        const second = await a.waitFor('onReadMessage', r => r.mid === sent.serverMsgId && r.groupReadCount === 2)
        check(second.from === carol, 'second receipt fields', second)
        const readers = await withTimeout(
            a.conn.getGroupMsgReadUser({ groupId, msgId: sent.serverMsgId }), CALL_TIMEOUT_MS, 'getGroupMsgReadUser()'
        )
        const list = readers && readers.data
        check(list && list.total === 2, 'getGroupMsgReadUser total', readers)
        check(JSON.stringify(list.userlist) === JSON.stringify([bob, carol].sort()), 'readers', readers)
        const bobs = b.all('onReadMessage')
        check(bobs.length === 0, 'a reader heard of the receipts', bobs)
        return { first, second, readers: list, alice }
    },

    // Case 6: an app-wide mute (POST /mutes): the muted user's 1:1 and group sends fail
    // with the SDK's 219 (PERMISSION_DENIED + "user is mute") until the app lifts it.
    async global_mute(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { members: [bob] })
        await settled(groupId, a, [[b, 'directJoined']])
        await restOk(ctx, 'POST', '/mutes', { body: { username: bob, chat: 600, groupchat: 600 } })
        const direct = checkType(await b.trySend({ type: 'txt', to: alice, msg: 'hush' }), 219, 'a muted 1:1 send')
        const inGroup = checkType(
            await b.trySend({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'hush' }),
            219,
            'a muted group send'
        )
        await restOk(ctx, 'POST', '/mutes', { body: { username: bob, chat: 0, groupchat: 0 } })
        await b.send({ type: 'txt', to: alice, msg: 'free again' })
        await a.waitFor('onTextMessage', m => m.msg === 'free again')
        return { direct, inGroup }
    },

    // Case 7: applying to an approval group: the owner hears requestToJoin with the
    // message, accepts one applicant (acceptRequest, then a member) and declines another.
    async apply(ctx) {
        const [alice, carol, dave] = names(ctx, 'alice', 'carol', 'dave')
        const a = await login(ctx, 'alice')
        const c = await login(ctx, 'carol')
        const d = await login(ctx, 'dave')
        const groupId = await create(a, { groupName: 'Gated', isPublic: true, needApprovalToJoin: true })
        await call(d, 'joinGroup', { groupId, message: 'please' })
        const asked = await groupEvent(a, 'requestToJoin', groupId, e => e.from === dave)
        check(asked.reason === 'please', 'requestToJoin reason', asked)
        const notYet = await call(d, 'getGroupInfo', { groupId })
        const accepted = await call(a, 'acceptGroupJoinRequest', { groupId, applicant: dave })
        const welcome = await groupEvent(d, 'acceptRequest', groupId)
        check(welcome.from === alice, 'acceptRequest from', welcome)
        const members = await call(a, 'listGroupMembers', { groupId, pageNum: 1, pageSize: 20 })
        const listed = members.data.map(m => m.member || m.owner)
        check(listed.includes(dave), 'the accepted applicant is a member', members)

        await call(c, 'joinGroup', { groupId, message: 'me too' })
        await groupEvent(a, 'requestToJoin', groupId, e => e.from === carol)
        await call(a, 'rejectGroupJoinRequest', { groupId, applicant: carol, reason: 'full' })
        const declined = await groupEvent(c, 'joinPublicGroupDeclined', groupId)
        const after = await call(a, 'listGroupMembers', { groupId, pageNum: 1, pageSize: 20 })
        check(!after.data.some(m => m.member === carol), 'a declined applicant is no member', after)
        return { asked, accepted: accepted.data, welcome, declined, notYet: notYet.data && notYet.data[0] && notYet.data[0].affiliations_count }
    },

    // Case 8: invitations that need the invitee's word: inviteToJoin with the group's name;
    // accepting tells the inviter (acceptInvite) and makes a member; rejecting tells it too.
    async invite(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        const groupId = await create(a, { groupName: 'Invites', inviteNeedConfirm: true, allowMemberToInvite: true })
        await call(a, 'inviteUsersToGroup', { groupId, users: [bob, carol] })
        const invited = await groupEvent(b, 'inviteToJoin', groupId)
        check(invited.from === alice && invited.name === 'Invites', 'inviteToJoin fields', invited)
        await groupEvent(c, 'inviteToJoin', groupId)
        await call(b, 'acceptGroupInvite', { groupId, invitee: bob })
        const yes = await groupEvent(a, 'acceptInvite', groupId, e => e.from === bob)
        await call(c, 'rejectGroupInvite', { groupId, invitee: carol })
        const no = await groupEvent(a, 'rejectInvite', groupId, e => e.from === carol)
        const members = await call(a, 'listGroupMembers', { groupId, pageNum: 1, pageSize: 20 })
        const listed = members.data.map(m => m.member || m.owner)
        check(listed.includes(bob) && !listed.includes(carol), 'members after the answers', members)
        return { invited, yes, no }
    },

    // Case 9: mutes and mute-all: a muted member's send fails with 219 until unmuted;
    // under mute-all only the allow list may post (others: 506).
    async mutes(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        const groupId = await create(a, { members: [bob, carol] })
        await settled(groupId, a, [[b, 'directJoined'], [c, 'directJoined']])
        const text = msg => ({ type: 'txt', chatType: 'groupChat', to: groupId, msg })
        await call(a, 'muteGroupMember', { groupId, username: bob, muteDuration: 600000 })
        const muted = await groupEvent(b, 'muteMember', groupId)
        check(muted.muteTimestamp && muted.muteTimestamp[bob] > Date.now(), 'muteMember muteTimestamp', muted)
        const refused = checkType(await b.trySend(text('shh')), 219, 'a muted member sending')
        const list = await call(a, 'getGroupMuteList', { groupId })
        check(list.data.some(m => m.user === bob), 'getGroupMuteList', list)
        const mine = await call(b, 'isInGroupMutelist', { groupId })
        check(mine.data === true, 'isInGroupMutelist', mine)
        await call(a, 'unmuteGroupMember', { groupId, username: bob })
        await groupEvent(b, 'unmuteMember', groupId)
        await b.send(text('back'))

        await call(a, 'disableSendGroupMsg', { groupId })
        await groupEvent(c, 'muteAllMembers', groupId)
        const allMuted = checkType(await c.trySend(text('anyone?')), 506, 'a member sending under mute-all')
        await call(a, 'addUsersToGroupAllowlist', { groupId, users: [carol] })
        await groupEvent(c, 'addUserToAllowlist', groupId)
        const allowed = await call(a, 'getGroupAllowlist', { groupId })
        check(allowed.data.includes(carol), 'getGroupAllowlist', allowed)
        await c.send(text('allowed'))
        checkType(await b.trySend(text('me?')), 506, 'a member off the allow list under mute-all')
        await call(a, 'enableSendGroupMsg', { groupId })
        await groupEvent(b, 'unmuteAllMembers', groupId)
        await b.send(text('free'))
        return { muted, refused, allMuted }
    },

    // Case 10: the block list: a blocked member is removed (removeMember) and cannot join
    // again (603); unblocking tells it (unblockMember) and it may join.
    async blocks(ctx) {
        const [alice, bob] = names(ctx, 'alice', 'bob')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { isPublic: true, needApprovalToJoin: false, members: [bob] })
        await groupEvent(b, 'directJoined', groupId)
        await call(a, 'blockGroupMember', { groupId, username: bob })
        const removed = await groupEvent(b, 'removeMember', groupId)
        const list = await call(a, 'getGroupBlocklist', { groupId })
        check(list.data.includes(bob), 'getGroupBlocklist', list)
        const again = checkType(await tryCall(b, 'joinGroup', { groupId, message: '' }), 603, 'a blocked user joining')
        await call(a, 'unblockGroupMember', { groupId, username: bob })
        const unblocked = await groupEvent(b, 'unblockMember', groupId)
        await call(b, 'joinGroup', { groupId, message: '' })
        return { removed, again, unblocked, alice }
    },

    // Case 11: announcement, member attributes and shielding: members hear the
    // announcement; another member hears memberAttributesUpdate; a member who shields the
    // group gets none of its messages until it stops.
    async announcement_attributes_shield(ctx) {
        const [alice, bob, carol] = names(ctx, 'alice', 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const c = await login(ctx, 'carol')
        const groupId = await create(a, { members: [bob, carol] })
        await settled(groupId, a, [[b, 'directJoined'], [c, 'directJoined']])
        await call(a, 'updateGroupAnnouncement', { groupId, announcement: 'tea at four' })
        const told = await groupEvent(b, 'updateAnnouncement', groupId)
        check(told.announcement === 'tea at four', 'updateAnnouncement text', told)
        const read = await call(b, 'fetchGroupAnnouncement', { groupId })
        check(read.data && read.data.announcement === 'tea at four', 'fetchGroupAnnouncement', read)

        await withTimeout(
            b.conn.setGroupMemberAttributes({ groupId, userId: bob, memberAttributes: { nick: 'Bobby' } }),
            CALL_TIMEOUT_MS, 'setGroupMemberAttributes()'
        )
        const attrs = await groupEvent(c, 'memberAttributesUpdate', groupId)
        check(attrs.userId === bob && attrs.attributes && attrs.attributes.nick === 'Bobby', 'memberAttributesUpdate', attrs)
        const got = await withTimeout(
            a.conn.getGroupMembersAttributes({ groupId, userIds: [bob], keys: [] }), CALL_TIMEOUT_MS, 'getGroupMembersAttributes()'
        )
        check(got.data && got.data[bob] && got.data[bob].nick === 'Bobby', 'getGroupMembersAttributes', got)

        await withTimeout(b.conn.blockGroupMessage({ groupId }), CALL_TIMEOUT_MS, 'blockGroupMessage()')
        await a.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'while shielded' })
        await c.waitFor('onTextMessage', m => m.msg === 'while shielded')
        await withTimeout(b.conn.unblockGroupMessage({ groupId }), CALL_TIMEOUT_MS, 'unblockGroupMessage()')
        await a.send({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'after shield' })
        await b.waitFor('onTextMessage', m => m.msg === 'after shield')
        const leaked = b.all('onTextMessage', m => m.msg === 'while shielded')
        check(leaked.length === 0, 'a shielded member got the group message', leaked)
        return { told, attrs, alice }
    },

    async err_join_twice(ctx) {
        const a = await login(ctx, 'alice')
        const d = await login(ctx, 'dave')
        const groupId = await create(a, { isPublic: true, needApprovalToJoin: false })
        await call(d, 'joinGroup', { groupId, message: '' })
        const twice = await tryCall(d, 'joinGroup', { groupId, message: '' })
        if (twice.type !== 601) {
            const path = `/chatgroups/${groupId}/apply?resource=${d.resource}`
            const answer = await raw(ctx, d, 'POST', path, { message: '' })
            throw new ScenarioFailure(`joining twice: expected SDK type 601, got ${twice.type}`, { twice, answer })
        }
        return { twice }
    },

    // A full group refuses a join with the SDK's 606; a disabled group refuses a send (608).
    async err_full_and_disabled(ctx) {
        const [bob] = names(ctx, 'bob')
        const a = await login(ctx, 'alice')
        const d = await login(ctx, 'dave')
        const groupId = await create(a, { isPublic: true, needApprovalToJoin: false, maxMemberCount: 2, members: [bob] })
        const full = checkType(await tryCall(d, 'joinGroup', { groupId, message: '' }), 606, 'joining a full group')
        const disabled = await rest(ctx, 'POST', `/chatgroups/${groupId}/disable`)
        check(disabled.status === 200, 'disabling the group', disabled)
        const send = checkType(
            await a.trySend({ type: 'txt', chatType: 'groupChat', to: groupId, msg: 'anyone?' }),
            608,
            'a send to a disabled group'
        )
        return { full, send }
    },

    async err_member_removes(ctx) {
        const [bob, carol] = names(ctx, 'bob', 'carol')
        const a = await login(ctx, 'alice')
        const b = await login(ctx, 'bob')
        const groupId = await create(a, { members: [bob, carol] })
        const refused = checkType(
            await tryCall(b, 'removeGroupMember', { groupId, username: carol }),
            603,
            'a plain member removing someone'
        )
        return { refused }
    },

    async err_destroyed_info(ctx) {
        const a = await login(ctx, 'alice')
        const groupId = await create(a, {})
        await call(a, 'destroyGroup', { groupId })
        const info = checkType(await tryCall(a, 'getGroupInfo', { groupId }), 605, 'getGroupInfo of a destroyed group')
        return { info }
    },
})
