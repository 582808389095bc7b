/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * vloopback._vloopback: libvloopback's C API for Python, as thin as SWIG
 * makes it.  The idiomatic layer is the pure-Python package around it
 * (vloopback/*.py); use that.
 *
 * Conventions of this low-level module:
 *   - functions keep their C names and return what C returns: an int is a
 *     count, an fd or 0 on success, -errno on failure (the Python layer
 *     turns it into vloopback.Error);
 *   - handles (struct vlb_dev *, struct vlb_queue *, struct vlb_req *) are
 *     opaque SWIG pointers, valid as long as C says;
 *   - every call releases the GIL (swig -threads): the library may block
 *     or call back, and its callbacks take the GIL themselves.
 *
 * What C does with function pointers is replaced by a small shim: a device
 * is created with a Python object whose methods the ops call
 * (vlbpy_dev_create), and the log function is a Python callable
 * (vlbpy_set_log).  The run loops and vlb_dev_wait_sysfs are left out: they
 * block in poll(2) and retry on EINTR, so Python's signal handlers (Ctrl-C)
 * would never run; the Python layer has its own loop over the same fds.
 */
%module(docstring="libvloopback's C API (low level: import vloopback instead)") vloopback

%{
#include <errno.h>
#include <vloopback/vloopback.h>

#include "buffer.h"
%}

%init %{
	if (vlbpy_buffer_init(m) < 0)
		return NULL;
%}

%include <stdint.i>

/* ---- typemaps ---- */

/* (data, len): any bytes-like object, read during the call */
%typemap(in) (const void *data, uint32_t len) (Py_buffer view, int got_view = 0) {
	if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
		SWIG_fail;
	got_view = 1;
	if ((size_t)view.len > UINT32_MAX)
		SWIG_exception_fail(SWIG_OverflowError, "buffer too large");
	$1 = view.buf;
	$2 = (uint32_t)view.len;
}
/* Also on the failure path, where an earlier argument may have failed */
%typemap(freearg) (const void *data, uint32_t len) {
	if (got_view$argnum)
		PyBuffer_Release(&view$argnum);
}

/* vlb_module_info(): returns [rc, dict], the dict empty on failure */
%typemap(in, numinputs=0) struct vlb_module_info *out (struct vlb_module_info tmp) {
	memset(&tmp, 0, sizeof(tmp));
	$1 = &tmp;
}
%typemap(argout) struct vlb_module_info *out {
	PyObject *d = result < 0 ? PyDict_New() : Py_BuildValue(
		"{s:I,s:I,s:I,s:I,s:K,s:K}",
		"api_version", $1->api_version,
		"max_queues", $1->max_queues,
		"max_queue_size", $1->max_queue_size,
		"max_config_size", $1->max_config_size,
		"max_shm_size", (unsigned long long)$1->max_shm_size,
		"device_types", (unsigned long long)$1->device_types);
	if (!d)
		SWIG_fail;
	$result = SWIG_Python_AppendOutput($result, d);
}

/* vlbpy_dev_create(): returns [rc, dev], dev None on failure */
%typemap(in, numinputs=0) struct vlb_dev **out (struct vlb_dev *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) struct vlb_dev **out {
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(*$1, $descriptor(struct vlb_dev *), 0));
}

/* ---- the public API ---- */

/* Replaced by the shim: function pointers and the blocking loops */
%ignore vlb_dev_ops;
%ignore vlb_dev_config;
%ignore vlb_dev_create;
%ignore vlb_dev_recover;
%ignore vlb_dev_run;
%ignore vlb_dev_run_threaded;
%ignore vlb_dev_stop;
%ignore vlb_dev_wait_sysfs;
%ignore vlb_dev_opaque;		/* it is the Python device, which knows itself */
%ignore vlb_set_log_fn;
%ignore vlb_module_query;	/* vlb_module_info() has the same dict */
/* Requests are opaque here: the shim hands Python Buffers of them */
%ignore vlb_req;
%ignore vlb_req::in;		/* a Python keyword; ignored anyway, and SWIG warns */
/* The struct is the function's output (a dict); the function keeps the name */
%rename("$ignore", %$isclass) vlb_module_info;

%include "vloopback/log.h"
%include "vloopback/module.h"
%include "vloopback/device.h"

%constant const char *VERSION = VLB_VERSION_STRING;

/* ---- the shim: C callbacks into Python ---- */

%{
/*
 * Each callback takes the GIL (the thread that dispatches released it in
 * the wrapper) and calls a method of the Python device, vlb_dev_opaque().
 * The device's methods catch what the user's code raises; a call that
 * still fails is a bug of the Python layer, reported as unraisable.
 */
static int vlbpy_int_result(PyObject *obj, PyObject *res)
{
	long v;

	if (!res) {
		PyErr_WriteUnraisable(obj);
		return -EIO;
	}
	v = PyLong_Check(res) ? PyLong_AsLong(res) : -EIO;
	Py_DECREF(res);
	if (v == -1 && PyErr_Occurred()) {
		PyErr_WriteUnraisable(obj);
		return -EIO;
	}
	return (int)v;
}

static int vlbpy_features(struct vlb_dev *dev, uint64_t acked)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *obj = vlb_dev_opaque(dev);
	int rc = vlbpy_int_result(obj, PyObject_CallMethod(obj, "_on_features",
				  "K", (unsigned long long)acked));

	PyGILState_Release(gil);
	return rc;
}

static void vlbpy_call_void(struct vlb_dev *dev, const char *method)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *obj = vlb_dev_opaque(dev);
	PyObject *res = PyObject_CallMethod(obj, method, NULL);

	if (!res)
		PyErr_WriteUnraisable(obj);
	Py_XDECREF(res);
	PyGILState_Release(gil);
}

static void vlbpy_driver_ok(struct vlb_dev *dev)
{
	vlbpy_call_void(dev, "_on_driver_ok");
}

static void vlbpy_reset(struct vlb_dev *dev)
{
	vlbpy_call_void(dev, "_on_reset");
}

static int vlbpy_config_write(struct vlb_dev *dev, uint32_t off,
			      const void *data, uint32_t len)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *obj = vlb_dev_opaque(dev);
	int rc = vlbpy_int_result(obj, PyObject_CallMethod(obj, "_on_config_write",
				  "Iy#", off, (const char *)data, (Py_ssize_t)len));

	PyGILState_Release(gil);
	return rc;
}

/*
 * A tuple of Buffers (buffer.c), one per buffer, straight onto the shared
 * area: revoked when the request is completed, and owner (the Python
 * device) kept alive until then.
 */
static PyObject *vlbpy_views(const struct iovec *iov, unsigned int n,
			     int readonly, PyObject *owner)
{
	PyObject *t = PyTuple_New(n), *v;
	unsigned int i;

	for (i = 0; t && i < n; i++) {
		v = vlbpy_buffer_new(iov[i].iov_base, (Py_ssize_t)iov[i].iov_len,
				     readonly, owner);
		if (!v) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, i, v);
	}
	return t;
}

static void vlbpy_handle(struct vlb_queue *q, struct vlb_req *req)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *obj = vlb_dev_opaque(vlb_queue_dev(q));
	PyObject *handle = SWIG_NewPointerObj(req, SWIGTYPE_p_vlb_req, 0);
	PyObject *rd = vlbpy_views(req->out, req->n_out, 1, obj);
	PyObject *wr = vlbpy_views(req->in, req->n_in, 0, obj);
	PyObject *res;

	if (handle && rd && wr) {
		/* From here the Python device owns the request, even if this fails */
		res = PyObject_CallMethod(obj, "_on_request", "IOOO",
					  vlb_queue_index(q), handle, rd, wr);
		if (!res)
			PyErr_WriteUnraisable(obj);
		Py_XDECREF(res);
	} else {
		/* Out of memory before Python saw it: fail it, never leave it hanging */
		PyErr_WriteUnraisable(obj);
		vlb_req_complete(req, 0);
	}
	Py_XDECREF(handle);
	Py_XDECREF(rd);
	Py_XDECREF(wr);
	PyGILState_Release(gil);
}

static const struct vlb_dev_ops vlbpy_ops = {
	.features = vlbpy_features,
	.driver_ok = vlbpy_driver_ok,
	.reset = vlbpy_reset,
	.config_write = vlbpy_config_write,
	.handle = vlbpy_handle,
};

static PyObject *vlbpy_log_callable;

static void vlbpy_log(int level, const char *msg, void *opaque)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *res;

	(void)opaque;
	/* The library may still call us after vlbpy_set_log(None) */
	if (!vlbpy_log_callable) {
		fprintf(stderr, "vloopback: %s\n", msg);
	} else {
		res = PyObject_CallFunction(vlbpy_log_callable, "is", level, msg);
		if (!res)
			PyErr_WriteUnraisable(vlbpy_log_callable);
		Py_XDECREF(res);
	}
	PyGILState_Release(gil);
}
%}

/* These touch reference counts: they keep the GIL */
%nothreadallow vlbpy_set_log;
%nothreadallow vlbpy_device_types;

%inline %{
/*
 * vlb_dev_create() with the shim's ops, or with recover_index >= 0
 * vlb_dev_recover() of that vloopback index.  device is the Python object whose
 * _on_* methods the callbacks call.  It is not referenced: the Python
 * device destroys the C device before it goes away, so the pointer never
 * outlives it (a reference would be a cycle through C that the garbage
 * collector cannot see).  Returns [rc, dev].
 */
int vlbpy_dev_create(PyObject *device, uint32_t device_id, uint32_t vendor_id,
		     uint16_t num_queues, uint16_t queue_size, uint64_t features,
		     const void *data, uint32_t len, uint64_t shm_size,
		     uint32_t flags, uint32_t recovery_timeout_ms,
		     int recover_index, struct vlb_dev **out)
{
	struct vlb_dev_config cfg = {
		.size = sizeof(cfg),
		.device_id = device_id,
		.vendor_id = vendor_id,
		.num_queues = num_queues,
		.queue_size = queue_size,
		.features = features,
		.config = len ? data : NULL,
		.config_size = len,
		.shm_size = shm_size,
		.ops = &vlbpy_ops,
		.ops_size = sizeof(vlbpy_ops),
		.opaque = device,
		.flags = flags,
		.recovery_timeout_ms = recovery_timeout_ms,
	};

	if (recover_index >= 0)
		return vlb_dev_recover(&cfg, (unsigned int)recover_index, out);
	return vlb_dev_create(&cfg, out);
}

/*
 * The library's table of device types (vlb_device_type_at): a list of
 * (name, ident, id, driver or None, sysfs) tuples.
 */
PyObject *vlbpy_device_types(void)
{
	const struct vlb_device_type *t;
	PyObject *list = PyList_New(0), *item;
	unsigned int i;

	for (i = 0; list && (t = vlb_device_type_at(i)); i++) {
		item = Py_BuildValue("(ssIzs)", t->name, t->ident, t->id, t->driver,
				     t->sysfs);
		if (!item || PyList_Append(list, item) < 0)
			Py_CLEAR(list);
		Py_XDECREF(item);
	}
	return list;
}

/*
 * Send the library's messages to fn(level, msg) (levels are VLB_LOG_*);
 * None restores the library's default (stderr).  Any thread may log.
 */
void vlbpy_set_log(PyObject *fn)
{
	PyObject *old = vlbpy_log_callable;

	if (fn == Py_None) {
		vlb_set_log_fn(NULL, NULL);
		vlbpy_log_callable = NULL;
	} else {
		Py_INCREF(fn);
		vlbpy_log_callable = fn;
		vlb_set_log_fn(vlbpy_log, NULL);
	}
	/* A message being logged concurrently may still use the old one */
	Py_XDECREF(old);
}
%}
