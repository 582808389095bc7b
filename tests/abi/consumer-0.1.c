// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A program built against 0.1's headers (headers-0.1/, frozen copies),
 * run against this library: its vlb_dev_config is smaller than the
 * library's and it knows no ops_size, so the library must take the struct
 * at the program's size and read its ops only as far as 0.1's.  Both sit at
 * the very end of a page followed by an inaccessible one: a read past them
 * faults.  Without the module (VLB_DEVICE_NODE points nowhere) a config the
 * library accepts fails at opening the node, -ENOENT; one it rejects fails
 * earlier with -EINVAL.  Exits 0 when everything was accepted.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vloopback/vloopback.h>

#if VLB_VERSION_MAJOR != 0 || VLB_VERSION_MINOR != 1
#error "headers-0.1/ must be 0.1's"
#endif

static void handle(struct vlb_queue *q, struct vlb_req *req)
{
	(void)q;
	vlb_req_complete(req, 0);
}

/* Room for a T at the end of a page whose next page faults */
static void *at_page_end(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + page, (size_t)page, PROT_NONE) < 0)
		return NULL;
	return p + page - size;
}

static int check(const char *what, int rc, int want)
{
	printf("%s: %d (%s)\n", what, rc, strerror(-rc));
	if (rc != want) {
		fprintf(stderr, "consumer-0.1: %s returned %d, expected %d\n",
			what, rc, want);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct vlb_dev_ops *ops = at_page_end(sizeof(*ops));
	struct vlb_dev_config *cfg = at_page_end(sizeof(*cfg));
	struct vlb_adapter_config *acfg = at_page_end(sizeof(*acfg));
	struct vlb_module_info *info = at_page_end(sizeof(*info));
	struct vlb_dev *dev = NULL;
	struct vlb_adapter *a = NULL;
	int bad = 0;

	if (!ops || !cfg || !acfg || !info)
		return 2;
	memset(ops, 0, sizeof(*ops));
	ops->handle = handle;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->device_id = 4;
	cfg->num_queues = 1;
	cfg->queue_size = 64;
	cfg->ops = ops;
	bad |= check("vlb_dev_create (0.1's config)", vlb_dev_create(cfg, &dev),
		     -ENOENT);

	memset(acfg, 0, sizeof(*acfg));
	acfg->size = sizeof(*acfg);
	acfg->device_id = 2;
	acfg->socket_path = "/nonexistent/backend.sock";
	bad |= check("vlb_adapter_create (0.1's config)",
		     vlb_adapter_create(acfg, &a), -ENOENT);

	bad |= check("vlb_module_info (0.1's struct)", vlb_module_info(info),
		     -ENOENT);
	return bad;
}
