// SPDX-License-Identifier: GPL-2.0
// sealwatch kernel side: process lifecycle (sched_process_exec/fork/exit) and the syscalls the
// Falco stable ruleset looks at (open family, connect, accept, socket, dup family, ptrace, link /
// symlink / unlink / rename families, module loading, sendto/sendmsg with a destination, failed
// execs), sent to user space through one BPF ring buffer.
//
// Only attach types that work without tracefs and under lockdown=integrity are used: tp_btf for
// everything (no kprobes, no fentry, no lsm, no classic tracepoints). CO-RE reads only.
//
// The record layout (struct sw_event) is mirrored by src/wire.rs; change both together.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define SW_EXEC 1
#define SW_FORK 2
#define SW_EXIT 3
#define SW_OPEN 4
#define SW_CONNECT 5
#define SW_SYSCALL 6 // any other followed syscall: user space decodes by syscall_nr

#define SW_STR1 256
#define SW_STR2 1024
#define SW_CGROUP 128

// x86_64 syscall numbers of the calls we follow.
#define NR_OPEN 2
#define NR_DUP 32
#define NR_DUP2 33
#define NR_SOCKET 41
#define NR_CONNECT 42
#define NR_ACCEPT 43
#define NR_SENDTO 44
#define NR_SENDMSG 46
#define NR_EXECVE 59
#define NR_RENAME 82
#define NR_CREAT 85
#define NR_LINK 86
#define NR_UNLINK 87
#define NR_SYMLINK 88
#define NR_PTRACE 101
#define NR_INIT_MODULE 175
#define NR_OPENAT 257
#define NR_UNLINKAT 263
#define NR_RENAMEAT 264
#define NR_LINKAT 265
#define NR_SYMLINKAT 266
#define NR_ACCEPT4 288
#define NR_DUP3 292
#define NR_FINIT_MODULE 313
#define NR_RENAMEAT2 316
#define NR_EXECVEAT 322
#define NR_OPENAT2 437

#define SW_AF_INET 2
#define SW_AF_INET6 10
#define SW_S_IFMT 0170000
#define SW_S_IFSOCK 0140000

// What the kernel knows about a socket file descriptor (filled only for sockets).
struct sw_sock {
	__u16 family;
	__u16 type;
	__u16 proto;
	__u16 lport;     // host byte order
	__u16 rport;     // host byte order
	__u8 state;      // sk_state (TCP_ESTABLISHED = 1 also for connected UDP)
	__u8 valid;
	__u32 pad;
	__u8 laddr[16];  // IPv4 in the first 4 bytes
	__u8 raddr[16];
};

struct sw_event {
	__u32 kind;
	__u32 pid;       // tgid
	__u32 tid;
	__u32 ppid;      // real parent's tgid
	__u32 uid;
	__u32 gid;
	__u64 ts_boot;   // bpf_ktime_get_boot_ns
	__u64 cgroup_id;
	__s64 res;       // syscall result, exit code, or child pid for fork
	__u64 arg0;      // open: flags; connect: fd; fork: child tid
	__u64 arg1;      // open: mode; connect: address length read; exec: argv bytes
	__u32 syscall_nr;
	__u32 str1_len;
	__u32 str2_len;
	__u32 loginuid;
	char comm[16];
	char cgroup[SW_CGROUP]; // leaf name of the task's cgroup v2 directory
	char str1[SW_STR1];     // exec: filename; open: path; connect: sockaddr bytes
	__u64 arg2;
	__u64 arg3;
	struct sw_sock sock;    // the socket the call used or created, when it is one
	// Last, so records that do not need it are reserved without it (SW_SHORT bytes): most
	// events (opens above all) then take a third of the ring buffer space.
	char str2[SW_STR2];     // exec: argv, NUL separated; second path of link/rename calls
};

#define SW_SHORT __builtin_offsetof(struct sw_event, str2)

// src/wire.rs decodes by these offsets.
_Static_assert(sizeof(struct sw_event) == 1568, "struct sw_event size changed: update src/wire.rs");
_Static_assert(__builtin_offsetof(struct sw_event, sock) == 496, "sw_event.sock moved");
_Static_assert(SW_SHORT == 544, "sw_event.str2 moved");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

// Index 0: records lost because the ring buffer was full.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct pending_call {
	__u64 nr;
	__u64 a0;
	__u64 a1;
	__u64 a2;
	__u64 a3;
	__u64 a4;
	__u64 a5;
};

// Syscall arguments saved at entry, by thread id, until the matching exit.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending SEC(".maps");

// Thread group id of the agent itself: its own opens are not reported (set before load).
const volatile __u32 self_tgid = 0;

static __always_inline void count_drop(void)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

// Fills the fixed header of a record (everything before str2).
static __always_inline void fill_header(struct sw_event *e, __u32 kind, struct task_struct *task)
{
	e->kind = kind;
	e->pid = BPF_CORE_READ(task, tgid);
	e->tid = BPF_CORE_READ(task, pid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->ts_boot = bpf_ktime_get_boot_ns();
	e->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	e->res = 0;
	e->arg0 = 0;
	e->arg1 = 0;
	e->arg2 = 0;
	e->arg3 = 0;
	e->sock.valid = 0;
	e->syscall_nr = 0;
	e->str1_len = 0;
	e->str2_len = 0;
	e->comm[0] = 0;
	e->cgroup[0] = 0;
	e->str1[0] = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	const char *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	if (cg)
		bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), cg);
}

// A full record, with room for str2.
static __always_inline struct sw_event *reserve(__u32 kind, struct task_struct *task)
{
	struct sw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		return 0;
	}
	fill_header(e, kind, task);
	e->str2[0] = 0;
	return e;
}

// A record without str2 (SW_SHORT bytes): str2 must not be touched.
static __always_inline struct sw_event *reserve_short(__u32 kind, struct task_struct *task)
{
	struct sw_event *e = bpf_ringbuf_reserve(&events, SW_SHORT, 0);
	if (!e) {
		count_drop();
		return 0;
	}
	fill_header(e, kind, task);
	return e;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sw_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct sw_event *e = reserve(SW_EXEC, p);
	if (!e)
		return 0;
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->str1, sizeof(e->str1), filename);
	e->str1_len = n > 0 ? n : 0;
	// argv lives in the new mm, between arg_start and arg_end, NUL separated.
	unsigned long start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long end = BPF_CORE_READ(p, mm, arg_end);
	unsigned long len = end > start ? end - start : 0;
	if (len > SW_STR2)
		len = SW_STR2;
	if (len > 0 && len <= SW_STR2 &&
	    bpf_probe_read_user(e->str2, len, (const void *)start) == 0)
		e->str2_len = len;
	e->arg1 = end > start ? end - start : 0;
	// Which call it was (execve or execveat) was saved at entry under the pre-exec thread id.
	__u32 key = old_pid;
	struct pending_call *call = bpf_map_lookup_elem(&pending, &key);
	e->syscall_nr = NR_EXECVE;
	if (call) {
		if (call->nr == NR_EXECVEAT)
			e->syscall_nr = NR_EXECVEAT;
		// A successful exec has no failure to report at sys_exit.
		bpf_map_delete_elem(&pending, &key);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sw_fork, struct task_struct *parent, struct task_struct *child)
{
	// New threads are not new processes: the table tracks thread groups.
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct sw_event *e = reserve_short(SW_FORK, parent);
	if (!e)
		return 0;
	e->res = BPF_CORE_READ(child, tgid);
	e->arg0 = BPF_CORE_READ(child, pid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sw_exit, struct task_struct *p, bool group_dead)
{
	if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
		return 0;
	struct sw_event *e = reserve_short(SW_EXIT, p);
	if (!e)
		return 0;
	e->res = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// Socket facts for file descriptor `fd` of `task`; leaves `out->valid` 0 for anything else.
static __always_inline void read_sock(struct task_struct *task, __s64 fd, struct sw_sock *out)
{
	if (fd < 0)
		return;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((__u64)fd >= max)
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & SW_S_IFMT) != SW_S_IFSOCK)
		return;
	struct socket *sock = (struct socket *)BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	out->type = BPF_CORE_READ(sk, sk_type);
	out->proto = BPF_CORE_READ(sk, sk_protocol);
	out->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	out->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (out->family == SW_AF_INET) {
		bpf_core_read(out->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(out->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (out->family == SW_AF_INET6) {
		bpf_core_read(out->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(out->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	out->valid = 1;
}

static __always_inline void read_str1(struct sw_event *e, __u64 ptr)
{
	long n = bpf_probe_read_user_str(e->str1, sizeof(e->str1), (const void *)ptr);
	e->str1_len = n > 0 ? n : 0;
}

static __always_inline void read_str2(struct sw_event *e, __u64 ptr)
{
	long n = bpf_probe_read_user_str(e->str2, sizeof(e->str2), (const void *)ptr);
	e->str2_len = n > 0 ? n : 0;
}

// A socket address from user memory into str1 (at most sizeof(struct sockaddr_un)).
static __always_inline void read_sockaddr(struct sw_event *e, __u64 ptr, __u64 len)
{
	if (len > 110)
		len = 110;
	if (ptr && len > 0 && bpf_probe_read_user(e->str1, len & 127, (const void *)ptr) == 0)
		e->str1_len = len & 127;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sw_sys_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case NR_OPEN: case NR_OPENAT: case NR_OPENAT2: case NR_CREAT:
	case NR_CONNECT: case NR_ACCEPT: case NR_ACCEPT4: case NR_SOCKET:
	case NR_DUP: case NR_DUP2: case NR_DUP3: case NR_PTRACE:
	case NR_LINK: case NR_LINKAT: case NR_SYMLINK: case NR_SYMLINKAT:
	case NR_UNLINK: case NR_UNLINKAT: case NR_RENAME: case NR_RENAMEAT: case NR_RENAMEAT2:
	case NR_INIT_MODULE: case NR_FINIT_MODULE: case NR_EXECVE: case NR_EXECVEAT:
	case NR_SENDTO: case NR_SENDMSG:
		break;
	default:
		return 0;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) == self_tgid)
		return 0;
	__u32 tid = (__u32)pid_tgid;
	struct pending_call call = {};
	call.nr = id;
	call.a0 = BPF_CORE_READ(regs, di);
	call.a1 = BPF_CORE_READ(regs, si);
	call.a2 = BPF_CORE_READ(regs, dx);
	call.a3 = BPF_CORE_READ(regs, r10);
	call.a4 = BPF_CORE_READ(regs, r8);
	call.a5 = BPF_CORE_READ(regs, r9);
	// sendto/sendmsg are hot; only calls naming a destination address (what the rules look
	// at: unconnected datagram sends) are followed.
	if (id == NR_SENDTO && (!call.a4 || !call.a5))
		return 0;
	if (id == NR_SENDMSG) {
		struct user_msghdr hdr = {};
		if (bpf_probe_read_user(&hdr, sizeof(hdr), (const void *)call.a1) ||
		    !hdr.msg_name || hdr.msg_namelen <= 0)
			return 0;
		call.a4 = (__u64)hdr.msg_name;
		call.a5 = hdr.msg_namelen;
	}
	bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
	return 0;
}

// The open family: path, flags, mode, result.
static __always_inline int emit_open(struct task_struct *task, struct pending_call *c, long ret)
{
	struct sw_event *e = reserve_short(SW_OPEN, task);
	if (!e)
		return 0;
	e->syscall_nr = c->nr;
	e->res = ret;
	__u64 path;
	if (c->nr == NR_OPEN || c->nr == NR_CREAT) {
		path = c->a0;
		e->arg0 = c->nr == NR_CREAT ? (0100 | 01 | 01000) : c->a1; // creat = O_CREAT|O_WRONLY|O_TRUNC
		e->arg1 = c->nr == NR_CREAT ? c->a1 : c->a2;
	} else if (c->nr == NR_OPENAT2) {
		path = c->a1;
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (const void *)c->a2);
		e->arg0 = how.flags;
		e->arg1 = how.mode;
	} else {
		path = c->a1;
		e->arg0 = c->a2;
		e->arg1 = c->a3;
	}
	read_str1(e, path);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// The calls with two paths (link, symlink and rename families): full-size records.
static __always_inline int emit_pair(struct task_struct *task, struct pending_call *c, long ret)
{
	struct sw_event *e = reserve(SW_SYSCALL, task);
	if (!e)
		return 0;
	e->syscall_nr = c->nr;
	e->res = ret;
	if (c->nr == NR_SYMLINKAT) {
		read_str1(e, c->a0); // target
		e->arg1 = c->a1;     // linkdirfd
		read_str2(e, c->a2); // linkpath
	} else if (c->nr == NR_LINKAT || c->nr == NR_RENAMEAT || c->nr == NR_RENAMEAT2) {
		e->arg0 = c->a0;
		read_str1(e, c->a1);
		e->arg1 = c->a2;
		read_str2(e, c->a3);
		e->arg2 = c->a4; // flags (linkat, renameat2)
	} else {
		// link, rename: oldpath, newpath; symlink: target, linkpath.
		read_str1(e, c->a0);
		read_str2(e, c->a1);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sw_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_call *call = bpf_map_lookup_elem(&pending, &tid);
	if (!call)
		return 0;
	struct pending_call c = *call;
	bpf_map_delete_elem(&pending, &tid);

	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	switch (c.nr) {
	case NR_OPEN: case NR_OPENAT: case NR_OPENAT2: case NR_CREAT:
		return emit_open(task, &c, ret);
	case NR_LINK: case NR_LINKAT: case NR_SYMLINK: case NR_SYMLINKAT:
	case NR_RENAME: case NR_RENAMEAT: case NR_RENAMEAT2:
		return emit_pair(task, &c, ret);
	case NR_EXECVE: case NR_EXECVEAT:
		// Successful execs were reported by sched_process_exec, which removed the entry.
		if (ret >= 0)
			return 0;
		break;
	default:
		break;
	}

	struct sw_event *e = reserve_short(c.nr == NR_CONNECT ? SW_CONNECT : SW_SYSCALL, task);
	if (!e)
		return 0;
	e->syscall_nr = c.nr;
	e->res = ret;
	switch (c.nr) {
	case NR_CONNECT:
		e->arg0 = c.a0;
		read_sockaddr(e, c.a1, c.a2);
		read_sock(task, c.a0, &e->sock);
		break;
	case NR_ACCEPT: case NR_ACCEPT4:
		e->arg0 = c.a0;                       // listening fd
		e->arg1 = c.nr == NR_ACCEPT4 ? c.a3 : 0; // flags
		read_sock(task, ret, &e->sock);       // the accepted connection
		break;
	case NR_SOCKET:
		e->arg0 = c.a0; // domain
		e->arg1 = c.a1; // type
		e->arg2 = c.a2; // protocol
		break;
	case NR_DUP: case NR_DUP2: case NR_DUP3:
		e->arg0 = c.a0; // oldfd
		e->arg1 = c.a1; // newfd
		e->arg2 = c.a2; // flags
		read_sock(task, c.a0, &e->sock);
		break;
	case NR_PTRACE:
		e->arg0 = c.a0; // request
		e->arg1 = c.a1; // pid
		e->arg2 = c.a2; // addr
		e->arg3 = c.a3; // data
		break;
	case NR_UNLINK:
		read_str1(e, c.a0);
		break;
	case NR_UNLINKAT:
		e->arg0 = c.a0;
		read_str1(e, c.a1);
		e->arg2 = c.a2;
		break;
	case NR_INIT_MODULE:
		e->arg1 = c.a1;     // image length
		read_str1(e, c.a2); // module parameters
		break;
	case NR_FINIT_MODULE:
		e->arg0 = c.a0;     // fd
		read_str1(e, c.a1); // module parameters
		e->arg2 = c.a2;     // flags
		break;
	case NR_SENDTO: case NR_SENDMSG:
		e->arg0 = c.a0;                             // fd
		e->arg1 = c.nr == NR_SENDTO ? c.a2 : 0;     // size asked (sendto)
		read_sockaddr(e, c.a4, c.a5);               // destination
		read_sock(task, c.a0, &e->sock);
		break;
	case NR_EXECVE:
		read_str1(e, c.a0);
		break;
	case NR_EXECVEAT:
		e->arg0 = c.a0; // dirfd
		read_str1(e, c.a1);
		e->arg2 = c.a4; // flags
		break;
	default:
		break;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
