'use strict'
// Attachments through the official Web SDK (agora-protocol-2.md §15): image and file
// messages uploaded by the SDK itself (single request, and the chunked upload above 7.5 MiB),
// received with an absolute URL and share secret, downloaded byte-identical with the SDK's
// own download(), image thumbnails; a wrong secret is refused with the SDK's 222.
// The files come from the pytest side (config.files: paths on disk).
const fs = require('fs')
const path = require('path')
const { Client, check, restOk, run, user } = require('../driver')

async function login(ctx, name) {
    const u = user(ctx, name)
    const client = new Client(ctx, name)
    await client.open({ user: u.name, pwd: u.password })
    return client
}

function fileOf(ctx, which, type) {
    const where = ctx.config.files[which]
    const bytes = fs.readFileSync(where)
    return { bytes, file: new File([bytes], path.basename(where), { type }) }
}

// The SDK's own download (utils.download, XHR with responseType blob); resolves the bytes.
function download(ctx, client, url, secret) {
    return new Promise((resolve, reject) => {
        const options = {
            url,
            onFileDownloadComplete: async blob => resolve(Buffer.from(await blob.arrayBuffer())),
            onFileDownloadError: err => reject(Object.assign(new Error('download failed'), { details: err })),
        }
        if (secret !== undefined) options.secret = secret
        ctx.sdk.utils.download.call(client.conn, options)
    })
}

async function sendFile(ctx, alice, fields) {
    const uploads = []
    const ack = await alice.send(
        {
            ...fields,
            onFileUploadComplete: data => uploads.push(data),
            onFileUploadError: err => uploads.push({ error: err }),
        },
        60000
    )
    return { ack, uploads }
}

function checkUrl(ctx, m) {
    const base = `${ctx.config.rest}/`
    check(typeof m.url === 'string' && m.url.startsWith(base), 'url is not on the REST base', m)
    check(m.url.includes('/chatfiles/'), 'url is not a chatfiles url', m)
    check(typeof m.secret === 'string' && m.secret.length > 0, 'no share secret', m)
}

run({
    async image(ctx) {
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const to = user(ctx, 'bob').name
        const { bytes, file } = fileOf(ctx, 'png', 'image/png')
        const { ack, uploads } = await sendFile(ctx, alice, {
            type: 'img',
            to,
            file: { data: file, filename: file.name, filetype: 'png', url: '' },
            width: 640,
            height: 480,
        })
        check(uploads.length === 1 && !uploads[0].error, 'upload did not complete', uploads)
        const m = await bob.waitFor('onImageMessage', () => true, 15000)
        check(m.id === ack.serverMsgId, 'received id is not the acked id', { m, ack })
        checkUrl(ctx, m)
        check(m.width === 640 && m.height === 480, 'image size lost', m)
        const got = await download(ctx, bob, m.url)
        check(Buffer.compare(got, bytes) === 0, 'downloaded image differs', { got: got.length, want: bytes.length })
        check(typeof m.thumb === 'string' && m.thumb.includes('thumbnail=true'), 'no thumbnail url', m)
        const thumb = await download(ctx, bob, m.thumb)
        check(thumb[0] === 0xff && thumb[1] === 0xd8, 'the thumbnail is not a JPEG', thumb.subarray(0, 8))
        check(thumb.length < bytes.length, 'the thumbnail is not smaller', { thumb: thumb.length })
        return { url: m.url, thumb: m.thumb, bytes: got.length, thumbBytes: thumb.length }
    },

    async file(ctx) {
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const to = user(ctx, 'bob').name
        const { bytes, file } = fileOf(ctx, 'bin', 'application/octet-stream')
        const { ack } = await sendFile(ctx, alice, {
            type: 'file',
            to,
            file: { data: file, filename: file.name, filetype: 'bin', url: '' },
        })
        const m = await bob.waitFor('onFileMessage', () => true, 15000)
        check(m.id === ack.serverMsgId, 'received id is not the acked id', { m, ack })
        checkUrl(ctx, m)
        check(m.filename === file.name, 'file name lost', m)
        const got = await download(ctx, bob, m.url)
        check(Buffer.compare(got, bytes) === 0, 'downloaded file differs', { got: got.length })
        return { bytes: got.length }
    },

    async large_file(ctx) {
        // Above 1.5 × 5 MiB: the SDK's chunked upload (init, parts, complete).
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const to = user(ctx, 'bob').name
        const { bytes, file } = fileOf(ctx, 'large', 'application/octet-stream')
        const { ack, uploads } = await sendFile(ctx, alice, {
            type: 'file',
            to,
            file: { data: file, filename: file.name, filetype: 'bin', url: '' },
        })
        const m = await bob.waitFor('onFileMessage', () => true, 30000)
        check(m.id === ack.serverMsgId, 'received id is not the acked id', { m, ack })
        checkUrl(ctx, m)
        const got = await download(ctx, bob, m.url)
        check(Buffer.compare(got, bytes) === 0, 'downloaded file differs', { got: got.length })
        return { bytes: got.length, uploads: uploads.length }
    },

    async group_image(ctx) {
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const created = await restOk(ctx, 'POST', '/chatgroups', {
            body: {
                groupname: 'photos',
                desc: 'files lane',
                public: true,
                maxusers: 10,
                owner: user(ctx, 'alice').name,
                members: [user(ctx, 'bob').name],
            },
        })
        const groupId = String(created.data.groupid)
        const { bytes, file } = fileOf(ctx, 'png', 'image/png')
        const { ack } = await sendFile(ctx, alice, {
            type: 'img',
            chatType: 'groupChat',
            to: groupId,
            file: { data: file, filename: file.name, filetype: 'png', url: '' },
        })
        const m = await bob.waitFor('onImageMessage', () => true, 15000)
        check(m.id === ack.serverMsgId && m.chatType === 'groupChat', 'not the group image', m)
        check(m.to === groupId, 'wrong group', m)
        checkUrl(ctx, m)
        const got = await download(ctx, bob, m.url)
        check(Buffer.compare(got, bytes) === 0, 'downloaded image differs', { got: got.length })
        return { group: groupId, bytes: got.length }
    },

    async group_shared_file(ctx) {
        // uploadGroupSharedFile, getGroupSharedFilelist, downloadGroupSharedFile,
        // deleteGroupSharedFile (agora-protocol-2.md §3): a member shares, another reads.
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const created = await restOk(ctx, 'POST', '/chatgroups', {
            body: {
                groupname: 'shared',
                desc: 'files lane',
                public: true,
                maxusers: 10,
                owner: user(ctx, 'alice').name,
                members: [user(ctx, 'bob').name],
            },
        })
        const groupId = String(created.data.groupid)
        const { bytes, file } = fileOf(ctx, 'bin', 'application/octet-stream')
        const uploaded = await new Promise((resolve, reject) => {
            alice.conn.uploadGroupSharedFile({
                groupId,
                file: { data: file, filename: file.name },
                onFileUploadComplete: resolve,
                onFileUploadError: err => reject(Object.assign(new Error('upload failed'), { details: err })),
            })
        })
        const fileId = uploaded.data.file_id
        check(typeof fileId === 'string' && uploaded.data.file_size === bytes.length, 'upload answer', uploaded)
        const listed = await bob.conn.getGroupSharedFilelist({ groupId, pageNum: 1, pageSize: 10 })
        check(listed.data.length === 1 && listed.data[0].file_id === fileId, 'not listed', listed)
        check(listed.data[0].file_owner === user(ctx, 'alice').name, 'wrong owner', listed)
        const got = await new Promise((resolve, reject) => {
            bob.conn.downloadGroupSharedFile({
                groupId,
                fileId,
                onFileDownloadComplete: async blob => resolve(Buffer.from(await blob.arrayBuffer())),
                onFileDownloadError: err => reject(Object.assign(new Error('download failed'), { details: err })),
            })
        })
        check(Buffer.compare(got, bytes) === 0, 'downloaded shared file differs', { got: got.length })
        const deleted = await alice.conn.deleteGroupSharedFile({ groupId, fileId })
        check(deleted.data.result === true, 'not deleted', deleted)
        const after = await bob.conn.getGroupSharedFilelist({ groupId, pageNum: 1, pageSize: 10 })
        check(after.data.length === 0, 'still listed', after)
        return { fileId, bytes: got.length }
    },

    async wrong_secret(ctx) {
        const alice = await login(ctx, 'alice')
        const bob = await login(ctx, 'bob')
        const to = user(ctx, 'bob').name
        const { file } = fileOf(ctx, 'png', 'image/png')
        await sendFile(ctx, alice, {
            type: 'img',
            to,
            file: { data: file, filename: file.name, filetype: 'png', url: '' },
        })
        const m = await bob.waitFor('onImageMessage', () => true, 15000)
        const bare = m.url.split('?')[0]
        let refused = null
        try {
            await download(ctx, bob, bare, 'not-the-secret')
        } catch (err) {
            refused = err.details
        }
        check(refused !== null, 'a wrong secret was accepted')
        check(refused.type === 222, 'not the SDK 222 (no permission)', refused)
        return { type: refused.type }
    },
})
