/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * vloopback.Buffer: how Python code sees one buffer of a request.  Private
 * to the binding (vloopback.i and buffer.c).
 */
#ifndef VLBPY_BUFFER_H
#define VLBPY_BUFFER_H

#include <Python.h>

/* Make the type and add it to the module as "Buffer".  0 or -1 (raised). */
int vlbpy_buffer_init(PyObject *module);

/*
 * A new Buffer onto len bytes at p, which stay valid until the Buffer is
 * released (by the request's completion).  owner is referenced until then
 * (the device whose mapping p is in).  NULL with an exception on failure.
 */
PyObject *vlbpy_buffer_new(void *p, Py_ssize_t len, int readonly,
			   PyObject *owner);

#endif /* VLBPY_BUFFER_H */
