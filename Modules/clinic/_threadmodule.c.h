/*[clinic input]
preserve
[clinic start generated code]*/

#include "pycore_modsupport.h"    // _PyArg_CheckPositional()

PyDoc_STRVAR(_thread__report_terminate_error__doc__,
"_report_terminate_error($module, exc, thread, /)\n"
"--\n"
"\n"
"Report exc, raised while asking thread to terminate.\n"
"\n"
"Internal only.  The exception goes to sys.unraisablehook, as C code\n"
"reports errors with PyErr_FormatUnraisable().  Used by threading for the\n"
"errors of Thread.__terminate__(), which must not stop interpreter exit.");

#define _THREAD__REPORT_TERMINATE_ERROR_METHODDEF    \
    {"_report_terminate_error", _PyCFunction_CAST(_thread__report_terminate_error), METH_FASTCALL, _thread__report_terminate_error__doc__},

static PyObject *
_thread__report_terminate_error_impl(PyObject *module, PyObject *exc,
                                     PyObject *thread);

static PyObject *
_thread__report_terminate_error(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *return_value = NULL;
    PyObject *exc;
    PyObject *thread;

    if (!_PyArg_CheckPositional("_report_terminate_error", nargs, 2, 2)) {
        goto exit;
    }
    if (!PyObject_TypeCheck(args[0], (PyTypeObject *)PyExc_BaseException)) {
        _PyArg_BadArgument("_report_terminate_error", "argument 1", ((PyTypeObject *)PyExc_BaseException)->tp_name, args[0]);
        goto exit;
    }
    exc = args[0];
    thread = args[1];
    return_value = _thread__report_terminate_error_impl(module, exc, thread);

exit:
    return return_value;
}
/*[clinic end generated code: output=2fca82ab81e30e7e input=a9049054013a1b77]*/
