'use strict'
// An app's limits as the Web SDK reports them (issue 15): past the app's message rate a
// send fails with 509 (CURRENT_LIMITING, from "traffic limit"); past a route's REST rate
// the call fails with 500 (SERVER_BUSY, from 429); the user quota refuses registration.
const { Client, check, errorInfo, restOk, run, user, withTimeout } = require('../driver')

run({
    async message_rate(ctx) {
        const [alice, bob] = [user(ctx, 'alice'), user(ctx, 'bob')]
        await restOk(ctx, 'PUT', '/settings', { body: { message_rate_per_user: 1 } })
        try {
            const a = new Client(ctx, 'alice')
            await a.open({ user: alice.name, pwd: alice.password })
            const results = []
            for (let n = 0; n < 4; n++) results.push(await a.trySend({ type: 'txt', to: bob.name, msg: `m${n}` }))
            const refused = results.filter(r => !r.ok)
            check(results[0].ok && results[1].ok, 'the burst of two was refused', results)
            check(refused.length > 0 && refused.every(r => r.type === 509), 'past the rate: 509', results)
            return { refused }
        } finally {
            await restOk(ctx, 'PUT', '/settings', { body: { message_rate_per_user: 0 } })
        }
    },

    async rest_rate(ctx) {
        const [alice, bob] = [user(ctx, 'alice'), user(ctx, 'bob')]
        await restOk(ctx, 'PUT', '/settings', { body: { rest_rate_per_s: 1 } })
        try {
            const a = new Client(ctx, 'alice')
            await a.open({ user: alice.name, pwd: alice.password })
            const outcomes = []
            for (let n = 0; n < 4; n++) {
                try {
                    await withTimeout(a.conn.getContacts(), 8000, 'getContacts()')
                    outcomes.push({ ok: true })
                } catch (err) {
                    outcomes.push({ ok: false, ...errorInfo(err) })
                }
            }
            const refused = outcomes.filter(r => !r.ok)
            check(refused.length > 0 && refused.every(r => r.type === 500), 'past the REST rate: 500', outcomes)
            return { outcomes, bob: bob.name }
        } finally {
            await restOk(ctx, 'PUT', '/settings', { body: { rest_rate_per_s: 100 } })
        }
    },
})
