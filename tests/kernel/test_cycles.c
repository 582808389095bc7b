// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Create, bind, serve and destroy a device many times in one process:
 * every round the kernel's virtio_rng driver must bind (a real probe with
 * feature negotiation, rings in the shared area, a request served) and the
 * device must go away on destroy.  The calling script compares the kernel's
 * counters before and after to catch leaks.
 *   test_cycles [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ids.h>

#include <vloopback/vloopback.h>

static void rng_handle(struct vlb_queue *q, struct vlb_req *req)
{
	uint32_t n = 0;
	unsigned int i;

	(void)q;
	for (i = 0; i < req->n_in; i++) {
		memset(req->in[i].iov_base, 0xa5, req->in[i].iov_len);
		n += req->in[i].iov_len;
	}
	vlb_req_complete(req, n);
}

static const struct vlb_dev_ops rng_ops = { .handle = rng_handle };

static int one_round(int round)
{
	struct vlb_dev_config cfg = {
		.size = sizeof(cfg),
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_size = 16,
		.ops = &rng_ops,
	};
	struct vlb_dev *dev;
	char name[64];
	int err;

	err = vlb_dev_create(&cfg, &dev);
	if (!err)
		err = vlb_dev_start(dev);
	if (!err)
		err = vlb_dev_wait_sysfs(dev, "driver", name, sizeof(name),
					 10000);
	if (err)
		fprintf(stderr, "test_cycles: round %d: %s\n", round,
			strerror(-err));
	vlb_dev_destroy(dev);
	return err;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	int i;

	for (i = 0; i < rounds; i++)
		if (one_round(i))
			return 1;
	printf("test_cycles: %d devices created, bound and destroyed\n", rounds);
	return 0;
}
