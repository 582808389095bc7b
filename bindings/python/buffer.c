// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopback.Buffer: a bytes-like view of one buffer of a request, that can
 * be revoked.
 *
 * A memoryview made from raw memory (PyMemoryView_FromMemory) cannot be:
 * memoryview.release() ends that one object, but any slice of it or
 * memoryview(it) keeps the raw pointer, so code that kept one reads and
 * writes the shared area after the request went back to the driver (another
 * request's data then, or unmapped memory after the device is closed).
 *
 * So the binding hands out Buffers instead.  Every access goes through the
 * Buffer and checks that it is still valid; slicing a Buffer gives a Buffer
 * of the same family (root plus slices), and releasing the root (what
 * completing the request does) revokes the whole family: a Buffer or slice
 * kept past completion raises ValueError instead of touching memory.
 *
 * The buffer protocol is there for zero-copy interplay (readinto, bytes(),
 * slice assignment, struct.unpack_from, os.preadv...), and it is the one
 * hole a revocation cannot close: a memoryview of a Buffer holds the raw
 * pointer.  So the family counts its exports, and releasing the root while
 * any is alive fails with BufferError (as mmap.close() does): the request
 * cannot be completed until every memoryview of its buffers is released.
 * That also holds for a thread that released the GIL with the buffer in
 * hand (readinto): its export is counted.
 *
 * While valid, the root references its owner (the Python Device, which owns
 * the mapping), so the device cannot be garbage collected from under an
 * export.  Everything here runs with the GIL held; validity only changes
 * under it.
 */
#include "buffer.h"

#include <string.h>

typedef struct vlbpy_buffer {
	PyObject_HEAD
	struct vlbpy_buffer *root;	/* a slice's root (referenced); NULL for a root */
	struct vlbpy_buffer *parent;	/* what a slice was cut from (referenced) */
	char *buf;
	Py_ssize_t len;
	int readonly;
	int released;			/* release() was called on this object */
	Py_ssize_t exports;		/* buffer-protocol exports of this object */
	/* root only */
	int revoked;			/* the family may not touch buf any more */
	Py_ssize_t family_exports;	/* exports of the root and all its slices */
	PyObject *owner;		/* while not revoked */
	Py_buffer src;			/* a root made from a Python object: its export */
	int has_src;
} vlbpy_buffer;

static PyTypeObject vlbpy_buffer_type;

static vlbpy_buffer *root_of(vlbpy_buffer *b)
{
	return b->root ? b->root : b;
}

/* Released itself, cut from a released slice, or revoked with its root */
static int is_dead(vlbpy_buffer *b)
{
	vlbpy_buffer *p;

	for (p = b; p; p = p->parent)
		if (p->released)
			return 1;
	return root_of(b)->revoked;
}

/* 0 if b may be used; -1 with ValueError if it was released or revoked */
static int check_alive(vlbpy_buffer *b)
{
	if (is_dead(b)) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a released vloopback.Buffer (its request was completed, "
				"or its device closed or reset: copy what you need to keep, e.g. bytes(buf))");
		return -1;
	}
	return 0;
}

static int check_writable(vlbpy_buffer *b)
{
	if (check_alive(b) < 0)
		return -1;
	if (b->readonly) {
		PyErr_SetString(PyExc_TypeError,
				"cannot modify a read-only vloopback.Buffer (the driver's data)");
		return -1;
	}
	return 0;
}

/* The root's revocation: the memory goes back to its owner */
static void revoke_family(vlbpy_buffer *root)
{
	root->revoked = 1;
	root->buf = NULL;
	if (root->has_src) {
		root->has_src = 0;
		PyBuffer_Release(&root->src);
	}
	Py_CLEAR(root->owner);
}

static PyObject *new_buffer(vlbpy_buffer *parent, char *p, Py_ssize_t len,
			    int readonly)
{
	vlbpy_buffer *b = PyObject_GC_New(vlbpy_buffer, &vlbpy_buffer_type);

	if (!b)
		return NULL;
	b->root = parent ? root_of(parent) : NULL;
	Py_XINCREF(b->root);
	b->parent = parent;
	Py_XINCREF(parent);
	b->buf = p;
	b->len = len;
	b->readonly = readonly;
	b->released = 0;
	b->exports = 0;
	b->revoked = 0;
	b->family_exports = 0;
	b->owner = NULL;
	b->has_src = 0;
	memset(&b->src, 0, sizeof(b->src));
	PyObject_GC_Track(b);
	return (PyObject *)b;
}

PyObject *vlbpy_buffer_new(void *p, Py_ssize_t len, int readonly,
			   PyObject *owner)
{
	vlbpy_buffer *b = (vlbpy_buffer *)new_buffer(NULL, p, len, readonly);

	if (b) {
		b->owner = owner;
		Py_XINCREF(owner);
	}
	return (PyObject *)b;
}

/* Buffer(obj, readonly=False): a root over a bytes-like object (tests, fakes) */
static PyObject *buffer_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *names[] = { "obj", "readonly", NULL };
	PyObject *obj;
	int readonly = 0;
	vlbpy_buffer *b;
	Py_buffer src;

	(void)type;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:Buffer", names, &obj,
					 &readonly))
		return NULL;
	if (PyObject_GetBuffer(obj, &src, readonly ? PyBUF_SIMPLE : PyBUF_WRITABLE) < 0)
		return NULL;
	b = (vlbpy_buffer *)new_buffer(NULL, src.buf, src.len, readonly);
	if (!b) {
		PyBuffer_Release(&src);
		return NULL;
	}
	b->src = src;
	b->has_src = 1;
	return (PyObject *)b;
}

static int buffer_traverse(vlbpy_buffer *b, visitproc visit, void *arg)
{
	Py_VISIT(b->root);
	Py_VISIT(b->parent);
	Py_VISIT(b->owner);
	if (b->has_src)
		Py_VISIT(b->src.obj);
	return 0;
}

static int buffer_clear(vlbpy_buffer *b)
{
	/* Garbage: no export is alive (an export references its Buffer) */
	if (!b->root)
		revoke_family(b);
	Py_CLEAR(b->root);
	Py_CLEAR(b->parent);
	return 0;
}

static void buffer_dealloc(vlbpy_buffer *b)
{
	PyObject_GC_UnTrack(b);
	buffer_clear(b);
	PyObject_GC_Del(b);
}

static int buffer_getbuffer(vlbpy_buffer *b, Py_buffer *view, int flags)
{
	if (check_alive(b) < 0)
		return -1;
	if (PyBuffer_FillInfo(view, (PyObject *)b, b->buf, b->len, b->readonly,
			      flags) < 0)
		return -1;
	b->exports++;
	root_of(b)->family_exports++;
	return 0;
}

static void buffer_releasebuffer(vlbpy_buffer *b, Py_buffer *view)
{
	(void)view;
	b->exports--;
	root_of(b)->family_exports--;
}

static Py_ssize_t buffer_length(vlbpy_buffer *b)
{
	if (check_alive(b) < 0)
		return -1;
	return b->len;
}

static PyObject *buffer_item(vlbpy_buffer *b, Py_ssize_t i)
{
	if (check_alive(b) < 0)
		return NULL;
	if (i < 0)
		i += b->len;
	if (i < 0 || i >= b->len) {
		PyErr_SetString(PyExc_IndexError, "index out of range");
		return NULL;
	}
	return PyLong_FromLong((unsigned char)b->buf[i]);
}

static int get_slice(vlbpy_buffer *b, PyObject *key, Py_ssize_t *start,
		     Py_ssize_t *len)
{
	Py_ssize_t stop, step;

	if (PySlice_Unpack(key, start, &stop, &step) < 0)
		return -1;
	*len = PySlice_AdjustIndices(b->len, start, &stop, step);
	if (step != 1) {
		PyErr_SetString(PyExc_ValueError,
				"vloopback.Buffer slices are contiguous (step 1)");
		return -1;
	}
	return 0;
}

static PyObject *buffer_subscript(vlbpy_buffer *b, PyObject *key)
{
	Py_ssize_t start, len;

	if (check_alive(b) < 0)
		return NULL;
	if (PyIndex_Check(key)) {
		Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);

		if (i == -1 && PyErr_Occurred())
			return NULL;
		return buffer_item(b, i);
	}
	if (!PySlice_Check(key)) {
		PyErr_SetString(PyExc_TypeError,
				"vloopback.Buffer indices must be integers or slices");
		return NULL;
	}
	if (get_slice(b, key, &start, &len) < 0)
		return NULL;
	return new_buffer(b, b->buf + start, len, b->readonly);
}

static int buffer_ass_subscript(vlbpy_buffer *b, PyObject *key, PyObject *value)
{
	Py_ssize_t start, len;
	Py_buffer src;
	long v;

	if (!value) {
		PyErr_SetString(PyExc_TypeError, "cannot delete from a vloopback.Buffer");
		return -1;
	}
	if (check_writable(b) < 0)
		return -1;
	if (PyIndex_Check(key)) {
		Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);

		if (i == -1 && PyErr_Occurred())
			return -1;
		if (i < 0)
			i += b->len;
		if (i < 0 || i >= b->len) {
			PyErr_SetString(PyExc_IndexError, "index out of range");
			return -1;
		}
		v = PyLong_AsLong(value);
		if (v == -1 && PyErr_Occurred())
			return -1;
		if (v < 0 || v > 255) {
			PyErr_SetString(PyExc_ValueError, "byte must be in range(0, 256)");
			return -1;
		}
		/* PyLong_AsLong may have run __index__: look again */
		if (check_writable(b) < 0)
			return -1;
		b->buf[i] = (char)v;
		return 0;
	}
	if (!PySlice_Check(key)) {
		PyErr_SetString(PyExc_TypeError,
				"vloopback.Buffer indices must be integers or slices");
		return -1;
	}
	if (get_slice(b, key, &start, &len) < 0)
		return -1;
	if (PyObject_GetBuffer(value, &src, PyBUF_SIMPLE) < 0)
		return -1;
	if (src.len != len) {
		PyErr_Format(PyExc_ValueError,
			     "vloopback.Buffer slice assignment: %zd bytes into %zd",
			     src.len, len);
		PyBuffer_Release(&src);
		return -1;
	}
	/* Getting value's buffer may have run Python code: look again */
	if (check_writable(b) < 0) {
		PyBuffer_Release(&src);
		return -1;
	}
	memmove(b->buf + start, src.buf, (size_t)len);	/* value may be b itself */
	PyBuffer_Release(&src);
	return 0;
}

static PyObject *buffer_release(vlbpy_buffer *b, PyObject *unused)
{
	(void)unused;
	if (is_dead(b))
		Py_RETURN_NONE;
	if (b->root) {
		if (b->exports) {
			PyErr_SetString(PyExc_BufferError,
					"a memoryview of this vloopback.Buffer is still alive");
			return NULL;
		}
		b->released = 1;
		Py_RETURN_NONE;
	}
	if (b->family_exports) {
		PyErr_Format(PyExc_BufferError,
			     "%zd memoryview(s) of this vloopback.Buffer or its slices still alive: "
			     "release them (or let them go) first",
			     b->family_exports);
		return NULL;
	}
	revoke_family(b);
	Py_RETURN_NONE;
}

static PyObject *buffer_tobytes(vlbpy_buffer *b, PyObject *unused)
{
	(void)unused;
	if (check_alive(b) < 0)
		return NULL;
	return PyBytes_FromStringAndSize(b->buf, b->len);
}

static PyObject *buffer_enter(PyObject *b, PyObject *unused)
{
	(void)unused;
	if (check_alive((vlbpy_buffer *)b) < 0)
		return NULL;
	Py_INCREF(b);
	return b;
}

static PyObject *buffer_exit(vlbpy_buffer *b, PyObject *args)
{
	(void)args;
	return buffer_release(b, NULL);
}

static PyObject *buffer_get_readonly(vlbpy_buffer *b, void *closure)
{
	(void)closure;
	return PyBool_FromLong(b->readonly);
}

static PyObject *buffer_get_released(vlbpy_buffer *b, void *closure)
{
	(void)closure;
	return PyBool_FromLong(is_dead(b));
}

static PyObject *buffer_get_exported(vlbpy_buffer *b, void *closure)
{
	(void)closure;
	return PyBool_FromLong(root_of(b)->family_exports > 0);
}

static PyObject *buffer_repr(vlbpy_buffer *b)
{
	if (is_dead(b))
		return PyUnicode_FromString("<vloopback.Buffer released>");
	return PyUnicode_FromFormat("<vloopback.Buffer %zd bytes %s>", b->len,
				    b->readonly ? "read-only" : "writable");
}

static PyMethodDef buffer_methods[] = {
	{ "release", (PyCFunction)buffer_release, METH_NOARGS,
	  "End access through this Buffer and the slices cut from it.\n"
	  "BufferError while a memoryview of it is alive." },
	{ "tobytes", (PyCFunction)buffer_tobytes, METH_NOARGS,
	  "A copy of the bytes." },
	{ "__enter__", buffer_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)buffer_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef buffer_getset[] = {
	{ "readonly", (getter)buffer_get_readonly, NULL,
	  "True for the driver's data (a request's readable buffers).", NULL },
	{ "released", (getter)buffer_get_released, NULL,
	  "True once released or revoked: any access raises ValueError.", NULL },
	{ "exported", (getter)buffer_get_exported, NULL,
	  "True while a memoryview of the family (root or slices) is alive.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PySequenceMethods buffer_as_sequence = {
	.sq_length = (lenfunc)buffer_length,
	.sq_item = (ssizeargfunc)buffer_item,
};

static PyMappingMethods buffer_as_mapping = {
	.mp_length = (lenfunc)buffer_length,
	.mp_subscript = (binaryfunc)buffer_subscript,
	.mp_ass_subscript = (objobjargproc)buffer_ass_subscript,
};

static PyBufferProcs buffer_as_buffer = {
	.bf_getbuffer = (getbufferproc)buffer_getbuffer,
	.bf_releasebuffer = (releasebufferproc)buffer_releasebuffer,
};

static PyTypeObject vlbpy_buffer_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vloopback.Buffer",
	.tp_basicsize = sizeof(vlbpy_buffer),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "One buffer of a request, valid until the request is completed.\n\n"
		  "Bytes-like (buffer protocol, len, indexing, slicing, slice assignment);\n"
		  "a slice is a Buffer revoked with its root.  After completion every\n"
		  "access raises ValueError; completion raises BufferError while a\n"
		  "memoryview of it is alive.  Buffer(obj, readonly=False) wraps a\n"
		  "bytes-like object (for tests).",
	.tp_new = buffer_tp_new,
	.tp_dealloc = (destructor)buffer_dealloc,
	.tp_traverse = (traverseproc)buffer_traverse,
	.tp_clear = (inquiry)buffer_clear,
	.tp_repr = (reprfunc)buffer_repr,
	.tp_hash = PyObject_HashNotImplemented,
	.tp_as_sequence = &buffer_as_sequence,
	.tp_as_mapping = &buffer_as_mapping,
	.tp_as_buffer = &buffer_as_buffer,
	.tp_methods = buffer_methods,
	.tp_getset = buffer_getset,
};

int vlbpy_buffer_init(PyObject *module)
{
	if (PyType_Ready(&vlbpy_buffer_type) < 0)
		return -1;
	Py_INCREF(&vlbpy_buffer_type);
	if (PyModule_AddObject(module, "Buffer", (PyObject *)&vlbpy_buffer_type) < 0) {
		Py_DECREF(&vlbpy_buffer_type);
		return -1;
	}
	return 0;
}
