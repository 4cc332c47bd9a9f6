'use strict'
// The per-user session limit: 4 devices by default, the 5th login refused.
const { Client, check, run, user } = require('../driver')

// What each SDK reports for Provision TOO_MANY_DEVICES (docs/websdk-notes.md §1).
const TOO_MANY = { 'agora-chat': 2, 'easemob-websdk': 214 }

run({
    async fifth_device(ctx) {
        const bob = user(ctx, 'bob')
        const limit = ctx.config.maxDevices || 4
        const devices = []
        for (let i = 1; i <= limit; i++) {
            const client = new Client(ctx, `bob-d${i}`)
            await client.open({ user: bob.name, pwd: bob.password })
            devices.push(client)
        }
        const resources = new Set(devices.map(d => d.resource))
        check(resources.size === limit, 'devices share resources', [...resources])
        const extra = new Client(ctx, `bob-d${limit + 1}`)
        const refused = await extra.tryOpen({ user: bob.name, pwd: bob.password })
        check(!refused.ok, `login #${limit + 1} was accepted`)
        const want = TOO_MANY[ctx.config.sdk]
        check(refused.type === want, `expected SDK type ${want}, got ${refused.type}`, refused)
        // One device logs out; then there is room again.
        devices[0].close()
        await devices[0].waitFor('onDisconnected', () => true, 5000)
        const late = new Client(ctx, `bob-d${limit + 2}`)
        const accepted = await late.tryOpen({ user: bob.name, pwd: bob.password })
        check(accepted.ok, 'login refused after a device logged out', accepted)
        return { refused }
    },
})
