'use strict'
// A node that sheds load (issue 15 item 4), with the Web SDK: the server under test keeps
// at most 0 writes queued (KIBITZ_OVERLOAD_QUEUE_JOBS=0), so a burst of sends finds the
// writer busy. Sends it sheds fail at once — never a hang — with the SDK's 503 ("server
// busy" is a FAIL reason it does not know); the rest are acked; afterwards the node serves.
const { Client, check, run, user } = require('../driver')

run({
    async burst(ctx) {
        const [alice, bob] = [user(ctx, 'alice'), user(ctx, 'bob')]
        const a = new Client(ctx, 'alice')
        await a.open({ user: alice.name, pwd: alice.password })
        const results = await Promise.all(
            Array.from({ length: 60 }, (_, n) => a.trySend({ type: 'txt', to: bob.name, msg: `burst ${n}` }))
        )
        const shed = results.filter(r => !r.ok)
        const acked = results.filter(r => r.ok)
        check(acked.length > 0, 'nothing of the burst was accepted', results)
        check(shed.length > 0, 'the burst found the node idle: nothing was shed', results)
        check(shed.every(r => r.type === 503), 'a shed send: expected SDK type 503', shed)
        const after = await a.send({ type: 'txt', to: bob.name, msg: 'after the burst' })
        return { shed: shed.length, acked: acked.length, after: after.serverMsgId }
    },
})
