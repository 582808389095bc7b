// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
// The C++ view of the installed headers: they compile as C++ and their
// functions link with C linkage.
#include <cstdio>

#include <vloopback/vloopback.h>

static void quiet(int, const char *, void *)
{
}

int main()
{
	struct vlb_module_info info;

	vlb_set_log_fn(quiet, nullptr);
	vlb_set_log_level(VLB_LOG_ERR);
	int ret = vlb_module_info(&info);
	std::printf("c++: vloopback %s, vlb_module_info: %d\n", VLB_VERSION_STRING, ret);
	return 0;
}
