// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's event loop: one epoll set over the capture, the control socket, a
 * signalfd, the export timer and a one-second housekeeping tick. Signals arrive here
 * and nowhere else, so nothing is ever interrupted in the middle of a record.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon_int.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

enum { TAG_SIGNAL = 1, TAG_CAPTURE, TAG_CTL, TAG_EXPORT, TAG_TICK };

static int arm_timer(int fd, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_interval = { (time_t)(interval_ns / NSEC_PER_SEC),
				 (long)(interval_ns % NSEC_PER_SEC) },
	};

	its.it_value = its.it_interval;
	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static int epoll_add(int efd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int daemon_sched_setup(struct daemon *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->export_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->efd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sfd < 0 || d->export_fd < 0 || d->tick_fd < 0 || d->efd < 0 ||
	    arm_timer(d->export_fd, d->cfg.export_interval_ns) ||
	    arm_timer(d->tick_fd, NSEC_PER_SEC) || epoll_add(d->efd, d->sfd, TAG_SIGNAL) ||
	    epoll_add(d->efd, d->export_fd, TAG_EXPORT) ||
	    epoll_add(d->efd, d->tick_fd, TAG_TICK) ||
	    epoll_add(d->efd, ctl_server__fd(d->ctl), TAG_CTL) ||
	    epoll_add(d->efd, live_source__fd(d->src), TAG_CAPTURE)) {
		log_err("event loop setup: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

static void drain_fd(int fd)
{
	uint8_t buf[128];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void reload(struct daemon *d)
{
	struct daemon_change ch;

	daemon_reload(d, &ch);
	if (ch.export_interval)
		arm_timer(d->export_fd, d->cfg.export_interval_ns);
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading %s", d->args->config_path ?
					  d->args->config_path : "the command line configuration");
			reload(d);
		} else {
			log_info("signal %u: writing state and exiting", si.ssi_signo);
			d->running = false;
		}
	}
}

void daemon_loop(struct daemon *d)
{
	struct epoll_event evs[16];
	int n, i, ret;

	d->running = true;
	while (d->running) {
		n = epoll_wait(d->efd, evs, ARRAY_SIZE(evs), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case TAG_SIGNAL:
				handle_signals(d);
				break;
			case TAG_CAPTURE:
				ret = live_source__process(d->src);
				if (ret && ret != -EAGAIN && ret != -EINTR)
					log_debug("capture: %s", strerror(-ret));
				break;
			case TAG_CTL:
				ctl_server__process(d->ctl);
				break;
			case TAG_EXPORT:
				drain_fd(d->export_fd);
				daemon_export(d);
				break;
			case TAG_TICK:
				drain_fd(d->tick_fd);
				live_source__tick(d->src, util_now_ns());
				ctl_server__tick(d->ctl, util_mono_ns());
				break;
			}
		}
	}
}
