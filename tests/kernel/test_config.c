// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A config change raised by the device reaches the driver: a virtio-blk
 * disk of 8 MiB grows to 16 MiB when the device process updates its
 * capacity with VLB_CONFIG_F_NOTIFY, and the kernel's block layer sees the
 * new size.  The disk reads as zeros; writes are refused.
 */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <vloopback/vloopback.h>

#define SMALL (8u << 20)
#define BIG (16u << 20)

static void zero_disk(struct vlb_queue *q, struct vlb_req *req)
{
	struct virtio_blk_outhdr hdr;
	uint32_t written = 0;
	unsigned int i;
	uint8_t *status;

	(void)q;
	if (req->n_out < 1 || req->out[0].iov_len < sizeof(hdr) || req->n_in < 1) {
		vlb_req_complete(req, 0);
		return;
	}
	memcpy(&hdr, req->out[0].iov_base, sizeof(hdr));
	for (i = 0; i + 1 < req->n_in; i++) {
		memset(req->in[i].iov_base, 0, req->in[i].iov_len);
		written += req->in[i].iov_len;
	}
	status = (uint8_t *)req->in[req->n_in - 1].iov_base +
		 req->in[req->n_in - 1].iov_len - 1;
	*status = le32toh(hdr.type) == VIRTIO_BLK_T_IN ? VIRTIO_BLK_S_OK
						      : VIRTIO_BLK_S_UNSUPP;
	vlb_req_complete(req, written + 1);
}

static const struct vlb_dev_ops ops = { .handle = zero_disk };

static unsigned long long sectors(const char *disk)
{
	unsigned long long n = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/size", disk);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

int main(void)
{
	struct virtio_blk_config cfg = { .capacity = htole64(SMALL / 512) };
	struct vlb_dev_config dc = {
		.size = sizeof(dc), .device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1, .queue_size = 64,
		.config = &cfg, .config_size = sizeof(cfg), .ops = &ops,
	};
	uint64_t cap = htole64(BIG / 512);
	struct vlb_dev *dev;
	char disk[64];
	int i, err;

	err = vlb_dev_create(&dc, &dev);
	if (!err)
		err = vlb_dev_start(dev);
	if (!err)
		err = vlb_dev_wait_sysfs(dev, "block/vd*", disk, sizeof(disk), 20000);
	if (err) {
		fprintf(stderr, "test_config: disk did not appear: %s\n", strerror(-err));
		return 1;
	}
	if (sectors(disk) != SMALL / 512) {
		fprintf(stderr, "test_config: %s has %llu sectors, want %u\n", disk,
			sectors(disk), SMALL / 512);
		return 1;
	}
	err = vlb_dev_set_config(dev, offsetof(struct virtio_blk_config, capacity),
				 &cap, sizeof(cap), true);
	if (err) {
		fprintf(stderr, "test_config: set_config: %s\n", strerror(-err));
		return 1;
	}
	/* the driver rereads config from a work item: serve while waiting */
	for (i = 0; i < 200 && sectors(disk) != BIG / 512; i++) {
		vlb_dev_dispatch(dev);
		vlb_queue_dispatch(vlb_dev_queue(dev, 0));
		usleep(50000);
	}
	if (sectors(disk) != BIG / 512) {
		fprintf(stderr, "test_config: %s still has %llu sectors after the change\n",
			disk, sectors(disk));
		return 1;
	}
	printf("test_config: /dev/%s grew from %u to %u MiB\n", disk, SMALL >> 20, BIG >> 20);
	vlb_dev_destroy(dev);
	return 0;
}
