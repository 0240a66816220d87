/*
 * Test-only ALSA output plugin: a sound card made of a clock.
 *
 * The ALSA `null` and `file` PCMs accept audio as fast as it is written, so they cannot
 * show what a real card does. This plugin does: it plays frames in real time at the
 * stream's rate (CLOCK_MONOTONIC), reports an xrun when the application falls behind
 * (the hardware pointer would pass the application pointer, as on a card with
 * stop_threshold = buffer size), and on drop discards what is queued but not yet played.
 *
 * It writes the frames it played to `file` (raw S16_LE mono, only what "reached the
 * speaker") and one line per event to `log`, times in CLOCK_MONOTONIC seconds, the clock
 * Python's time.monotonic() reads:
 *     start T PLAYED     the stream started
 *     xrun T PLAYED      ran dry (PLAYED: frames played since the device was opened)
 *     stop T PLAYED      stopped: drop, end of drain, or recovery after an xrun
 *     close T PLAYED
 *
 * Built by tests/alsa/rig.py:
 *     cc -shared -fPIC -DPIC -o libasound_module_pcm_edgevc_clock.so pcm_edgevc_clock.c -lasound
 * and named in its ALSA configuration (tests/alsa/clock.asoundrc.template):
 *     pcm_type.edgevc_clock { lib "/path/libasound_module_pcm_edgevc_clock.so" }
 *     pcm.edgevc_clock { type edgevc_clock file "/path/clock.raw" log "/path/clock.log" }
 * Only S16_LE mono, 8-48 kHz: what edgevc plays.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>

#define TICK_NS 2000000L /* poll wake-up every 2 ms */

typedef struct {
	snd_pcm_ioplug_t io;
	char *file_path, *log_path;
	FILE *out, *log;
	short *ring;                 /* the frames written and not yet played */
	snd_pcm_uframes_t ring_size;
	snd_pcm_uframes_t written;   /* frames transferred since prepare */
	snd_pcm_uframes_t played;    /* frames played since prepare */
	snd_pcm_uframes_t base;      /* `played` when the clock (re)started */
	unsigned long long total;    /* frames played since open */
	double t0;
	int running;
} clock_pcm_t;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void event(clock_pcm_t *c, const char *what)
{
	if (c->log) {
		fprintf(c->log, "%s %.6f %llu\n", what, now(), c->total);
		fflush(c->log);
	}
}

/* Play (write out) ring frames up to `upto`. */
static void play_to(clock_pcm_t *c, snd_pcm_uframes_t upto)
{
	while (c->played < upto) {
		snd_pcm_uframes_t pos = c->played % c->ring_size;
		snd_pcm_uframes_t n = upto - c->played;
		if (n > c->ring_size - pos)
			n = c->ring_size - pos;
		if (c->out)
			fwrite(c->ring + pos, sizeof(short), n, c->out);
		c->played += n;
		c->total += n;
	}
}

/* Play what the clock says is due; 1 if that ran past the written frames (starved). */
static int advance(clock_pcm_t *c)
{
	snd_pcm_uframes_t due;
	if (!c->running)
		return 0;
	due = c->base + (snd_pcm_uframes_t)((now() - c->t0) * c->io.rate);
	play_to(c, due < c->written ? due : c->written);
	return due > c->written;
}

static snd_pcm_sframes_t clock_pointer(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	if (advance(c) && io->state != SND_PCM_STATE_DRAINING) {
		c->running = 0;
		event(c, "xrun");
		return -EPIPE;
	}
	return c->played; /* absolute position: SND_PCM_IOPLUG_FLAG_BOUNDARY_WA */
}

static snd_pcm_sframes_t clock_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
					snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	clock_pcm_t *c = io->private_data;
	const char *src = (const char *)areas->addr + (areas->first + offset * areas->step) / 8;
	snd_pcm_uframes_t i;
	for (i = 0; i < size; i++)
		memcpy(&c->ring[(c->written + i) % c->ring_size], src + i * (areas->step / 8), sizeof(short));
	c->written += size;
	return size;
}

static int clock_start(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	c->t0 = now();
	c->base = c->played;
	c->running = 1;
	event(c, "start");
	return 0;
}

static int clock_stop(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	advance(c); /* play what was due up to now; the rest is dropped */
	c->running = 0;
	if (c->out)
		fflush(c->out);
	event(c, "stop");
	return 0;
}

/* Block until every written frame has played (alsa-lib then calls stop). */
static int clock_drain(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	struct timespec ms = {0, 1000000L};
	if (!c->running && c->written > c->played)
		clock_start(io); /* less than the start threshold was written */
	while (c->running && c->played < c->written) {
		advance(c);
		nanosleep(&ms, NULL);
	}
	return 0;
}

static int clock_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	clock_pcm_t *c = io->private_data;
	(void)params;
	free(c->ring);
	c->ring_size = io->buffer_size;
	c->ring = calloc(c->ring_size, sizeof(short));
	return c->ring ? 0 : -ENOMEM;
}

static int clock_prepare(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	/* Files are opened here, not at open: PortAudio opens every PCM to list devices. */
	if (!c->out && c->file_path && !(c->out = fopen(c->file_path, "wb")))
		return -errno;
	if (!c->log && c->log_path && !(c->log = fopen(c->log_path, "w")))
		return -errno;
	c->written = c->played = c->base = 0;
	c->running = 0;
	return 0;
}

static int clock_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
			      unsigned short *revents)
{
	unsigned long long ticks;
	(void)nfds;
	if (read(io->poll_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	*revents = (pfd[0].revents & POLLIN) ? POLLOUT : 0;
	return 0;
}

static int clock_close(snd_pcm_ioplug_t *io)
{
	clock_pcm_t *c = io->private_data;
	if (c->log)
		event(c, "close");
	if (c->out)
		fclose(c->out);
	if (c->log)
		fclose(c->log);
	close(io->poll_fd);
	free(c->ring);
	free(c->file_path);
	free(c->log_path);
	free(c);
	return 0;
}

static const snd_pcm_ioplug_callback_t clock_callback = {
	.start = clock_start,
	.stop = clock_stop,
	.pointer = clock_pointer,
	.transfer = clock_transfer,
	.close = clock_close,
	.hw_params = clock_hw_params,
	.prepare = clock_prepare,
	.drain = clock_drain,
	.poll_revents = clock_poll_revents,
};

SND_PCM_PLUGIN_DEFINE_FUNC(edgevc_clock)
{
	snd_config_iterator_t i, next;
	const char *file_path = NULL, *log_path = NULL;
	clock_pcm_t *c;
	struct itimerspec tick = {{0, TICK_NS}, {0, TICK_NS}};
	static const unsigned int access[] = {SND_PCM_ACCESS_RW_INTERLEAVED,
					      SND_PCM_ACCESS_MMAP_INTERLEAVED};
	static const unsigned int formats[] = {SND_PCM_FORMAT_S16_LE};
	int err;
	(void)root;

	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") || !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "file")) {
			if (snd_config_get_string(n, &file_path) < 0)
				return -EINVAL;
			continue;
		}
		if (!strcmp(id, "log")) {
			if (snd_config_get_string(n, &log_path) < 0)
				return -EINVAL;
			continue;
		}
		SNDERR("edgevc_clock: unknown field %s", id);
		return -EINVAL;
	}
	if (stream != SND_PCM_STREAM_PLAYBACK)
		return -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->file_path = file_path ? strdup(file_path) : NULL;
	c->log_path = log_path ? strdup(log_path) : NULL;
	c->io.version = SND_PCM_IOPLUG_VERSION;
	c->io.name = "edgevc test clock";
	c->io.flags = SND_PCM_IOPLUG_FLAG_BOUNDARY_WA | SND_PCM_IOPLUG_FLAG_MONOTONIC;
	c->io.callback = &clock_callback;
	c->io.private_data = c;
	c->io.poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->io.poll_events = POLLIN;
	c->io.mmap_rw = 0;
	if (c->io.poll_fd < 0 || timerfd_settime(c->io.poll_fd, 0, &tick, NULL) < 0) {
		err = -errno;
		goto fail;
	}
	err = snd_pcm_ioplug_create(&c->io, name, stream, mode);
	if (err < 0)
		goto fail;
	if ((err = snd_pcm_ioplug_set_param_list(&c->io, SND_PCM_IOPLUG_HW_ACCESS, 2, access)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&c->io, SND_PCM_IOPLUG_HW_FORMAT, 1, formats)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 1)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_RATE, 8000, 48000)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 64, 1 << 17)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 128, 1 << 19)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&c->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64)) < 0) {
		snd_pcm_ioplug_delete(&c->io); /* calls clock_close, which frees c */
		return err;
	}
	*pcmp = c->io.pcm;
	return 0;

fail:
	if (c->io.poll_fd >= 0)
		close(c->io.poll_fd);
	free(c->file_path);
	free(c->log_path);
	free(c);
	return err;
}

SND_PCM_PLUGIN_SYMBOL(edgevc_clock);
