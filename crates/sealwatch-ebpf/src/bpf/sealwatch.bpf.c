// SPDX-License-Identifier: GPL-2.0
// sealwatch kernel side: process lifecycle (sched_process_exec/fork/exit) and the open/connect
// syscalls, sent to user space through one BPF ring buffer.
//
// Only attach types that work without tracefs and under lockdown=integrity are used: tp_btf for
// everything (no kprobes, no fentry, no lsm, no classic tracepoints). CO-RE reads only.
//
// The record layout (struct sw_event) is mirrored by src/wire.rs; change both together.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SW_EXEC 1
#define SW_FORK 2
#define SW_EXIT 3
#define SW_OPEN 4
#define SW_CONNECT 5

#define SW_STR1 256
#define SW_STR2 1024
#define SW_CGROUP 128

// x86_64 syscall numbers of the calls we follow.
#define NR_OPEN 2
#define NR_CONNECT 42
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_OPENAT2 437

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
	char str2[SW_STR2];     // exec: argv, NUL separated
};

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

static __always_inline struct sw_event *reserve(__u32 kind, struct task_struct *task)
{
	struct sw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		return 0;
	}
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
	e->syscall_nr = 0;
	e->str1_len = 0;
	e->str2_len = 0;
	e->comm[0] = 0;
	e->cgroup[0] = 0;
	e->str1[0] = 0;
	e->str2[0] = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	const char *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	if (cg)
		bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), cg);
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
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sw_fork, struct task_struct *parent, struct task_struct *child)
{
	// New threads are not new processes: the table tracks thread groups.
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct sw_event *e = reserve(SW_FORK, parent);
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
	struct sw_event *e = reserve(SW_EXIT, p);
	if (!e)
		return 0;
	e->res = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sw_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_OPENAT && id != NR_OPENAT2 && id != NR_OPEN && id != NR_CREAT &&
	    id != NR_CONNECT)
		return 0;
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
	bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
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
	if (c.nr == NR_CONNECT) {
		struct sw_event *e = reserve(SW_CONNECT, task);
		if (!e)
			return 0;
		e->syscall_nr = c.nr;
		e->res = ret;
		e->arg0 = c.a0;
		__u64 len = c.a2;
		if (len > 110) // sizeof(struct sockaddr_un), the longest family decoded
			len = 110;
		if (len > 0 && bpf_probe_read_user(e->str1, len & 127, (const void *)c.a1) == 0)
			e->str1_len = len & 127;
		bpf_ringbuf_submit(e, 0);
		return 0;
	}

	struct sw_event *e = reserve(SW_OPEN, task);
	if (!e)
		return 0;
	e->syscall_nr = c.nr;
	e->res = ret;
	const void *path;
	if (c.nr == NR_OPEN || c.nr == NR_CREAT) {
		path = (const void *)c.a0;
		e->arg0 = c.nr == NR_CREAT ? (0100 | 01 | 01000) : c.a1; // creat = O_CREAT|O_WRONLY|O_TRUNC
		e->arg1 = c.nr == NR_CREAT ? c.a1 : c.a2;
	} else if (c.nr == NR_OPENAT2) {
		path = (const void *)c.a1;
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (const void *)c.a2);
		e->arg0 = how.flags;
		e->arg1 = how.mode;
	} else {
		path = (const void *)c.a1;
		e->arg0 = c.a2;
		e->arg1 = c.a3;
	}
	long n = bpf_probe_read_user_str(e->str1, sizeof(e->str1), path);
	e->str1_len = n > 0 ? n : 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
