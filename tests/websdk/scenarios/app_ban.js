'use strict'
// A banned app (POST /{org}/{app}/disable): the online client is disconnected, a new login
// is refused with the SDK's 57 (WEBIM_SERVER_SERVING_DISABLED) — with a token it goes
// straight to msync; a password login fails at the token request — and /enable restores it.
const { Client, accessToken, check, restOk, run, user } = require('../driver')

run({
    async banned(ctx) {
        const alice = user(ctx, 'alice')
        const token = await accessToken(ctx, alice)
        const online = new Client(ctx, 'alice')
        await online.open({ user: alice.name, pwd: alice.password })
        await online.waitFor('onConnected')
        await restOk(ctx, 'POST', '/disable')
        try {
            // The SDK tries to come back; each login is refused (onError) until it gives up.
            const seen = await online.waitFor('onError')
            const byToken = await new Client(ctx, 'alice2').tryOpen({ user: alice.name, accessToken: token })
            check(!byToken.ok && byToken.type === 57, 'a token login to a banned app', byToken)
            const byPassword = await new Client(ctx, 'alice3').tryOpen({ user: alice.name, pwd: alice.password })
            check(!byPassword.ok, 'a password login to a banned app succeeded', byPassword)
            online.close()
            return { seen, byToken, byPassword: await finish(ctx, alice, byPassword) }
        } finally {
            await restOk(ctx, 'POST', '/enable')
        }
    },
})

// After /enable the same user logs in again (the finally above runs first).
async function finish(ctx, alice, refused) {
    await restOk(ctx, 'POST', '/enable')
    const again = new Client(ctx, 'alice4')
    await again.open({ user: alice.name, pwd: alice.password })
    await again.waitFor('onConnected')
    again.close()
    return refused
}
