// Thin nanobind face of the C runtime. Errors come back as (status, message); ember/runtime.py turns
// them into ember.EmberError subclasses with actionable messages.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

extern "C" {
#include "ember/ember.h"
}

namespace nb = nanobind;

namespace {

struct Program {
  ember_program *p = nullptr;
  std::vector<uint8_t> keep;  // bytes kept alive when loaded from memory (copied, aligned inside C)
  ~Program() { ember_program_free(p); }
};

struct Session {
  ember_session *s = nullptr;
  nb::object program;  // keeps the Program alive
  ~Session() { ember_session_free(s); }
};

using Status = std::tuple<int, std::string>;

nb::tuple info_tuple(const ember_tensor_info &i) {
  nb::list dims;
  for (int d = 0; d < i.rank; d++) dims.append(i.dims[d]);
  return nb::make_tuple(std::string(i.name), i.dtype, nb::tuple(dims));
}

}  // namespace

NB_MODULE(_rt, m) {
  m.doc() = "Ember C runtime bindings (internal; use ember.load)";
  m.attr("FORMAT_VERSION") = nb::make_tuple(EMBER_FORMAT_VERSION_MAJOR, EMBER_FORMAT_VERSION_MINOR);
  m.attr("RUNTIME_VERSION") = EMBER_RUNTIME_VERSION;

  m.def("kernels", []() {
    std::vector<std::tuple<int, std::string, int>> out;
    for (int32_t i = 0; i < ember_kernel_count(); i++) {
      ember_kernel_desc d;
      if (ember_kernel_at(i, &d) == EMBER_OK) out.emplace_back(d.op, d.op_name, d.dtype);
    }
    return out;
  });

  nb::class_<Program>(m, "Program")
      .def_static("load_file",
                  [](const std::string &path, bool verify, bool reference) {
                    auto *prog = new Program();
                    char err[512] = {0};
                    ember_status st;
                    {
                      nb::gil_scoped_release release;
                      uint32_t flags = (verify ? EMBER_LOAD_VERIFY_WEIGHTS : 0) |
                                       (reference ? EMBER_LOAD_REFERENCE_KERNELS : 0);
                      st = ember_program_load_file(path.c_str(), flags, &prog->p, err, sizeof err);
                    }
                    if (st != EMBER_OK) {
                      delete prog;
                      return nb::make_tuple(int(st), std::string(err), nb::none());
                    }
                    return nb::make_tuple(0, std::string(), nb::cast(prog, nb::rv_policy::take_ownership));
                  })
      .def_static("load_bytes",
                  [](nb::bytes data, bool verify, bool reference) {
                    auto *prog = new Program();
                    char err[512] = {0};
                    uint32_t flags = EMBER_LOAD_COPY | (verify ? EMBER_LOAD_VERIFY_WEIGHTS : 0) |
                                     (reference ? EMBER_LOAD_REFERENCE_KERNELS : 0);
                    ember_status st = ember_program_load_memory(data.c_str(), data.size(), flags, &prog->p, err,
                                                                sizeof err);
                    if (st != EMBER_OK) {
                      delete prog;
                      return nb::make_tuple(int(st), std::string(err), nb::none());
                    }
                    return nb::make_tuple(0, std::string(), nb::cast(prog, nb::rv_policy::take_ownership));
                  })
      .def_prop_ro("num_inputs", [](Program &p) { return ember_program_num_inputs(p.p); })
      .def_prop_ro("num_outputs", [](Program &p) { return ember_program_num_outputs(p.p); })
      .def_prop_ro("num_nodes", [](Program &p) { return ember_program_num_nodes(p.p); })
      .def_prop_ro("arena_bytes", [](Program &p) { return ember_program_arena_bytes(p.p); })
      .def_prop_ro("scratch_bytes", [](Program &p) { return ember_program_scratch_bytes(p.p); })
      .def_prop_ro("weight_bytes", [](Program &p) { return ember_program_weight_bytes(p.p); })
      .def_prop_ro("lower_bound_bytes", [](Program &p) { return ember_program_lower_bound_bytes(p.p); })
      .def_prop_ro("packed_bytes", [](Program &p) { return ember_program_packed_bytes(p.p); })
      .def("node_kernel", [](Program &p, int i) { return std::string(ember_program_node_kernel(p.p, i)); })
      .def("input_info",
           [](Program &p, int i) {
             ember_tensor_info info;
             if (ember_program_input_info(p.p, i, &info) != EMBER_OK) throw nb::index_error("input index");
             return info_tuple(info);
           })
      .def("output_info",
           [](Program &p, int i) {
             ember_tensor_info info;
             if (ember_program_output_info(p.p, i, &info) != EMBER_OK) throw nb::index_error("output index");
             return info_tuple(info);
           })
      .def("node_info",
           [](Program &p, int i) {
             const char *name = nullptr, *op = nullptr;
             if (ember_program_node_info(p.p, i, &name, &op) != EMBER_OK) throw nb::index_error("node index");
             return std::make_tuple(std::string(name), std::string(op));
           })
      .def("metadata", [](Program &p) {
        const char *json = nullptr;
        size_t len = 0;
        ember_program_metadata(p.p, &json, &len);
        return nb::bytes(json, len);
      });

  nb::class_<Session>(m, "Session")
      .def_static("create",
                  [](nb::object program, int threads, bool profile) {
                    Program &p = nb::cast<Program &>(program);
                    auto *s = new Session();
                    s->program = program;
                    ember_session_options o{threads, nullptr, 0, profile ? 1 : 0};
                    char err[512] = {0};
                    ember_status st = ember_session_create(p.p, &o, &s->s, err, sizeof err);
                    if (st != EMBER_OK) {
                      delete s;
                      return nb::make_tuple(int(st), std::string(err), nb::none());
                    }
                    return nb::make_tuple(0, std::string(), nb::cast(s, nb::rv_policy::take_ownership));
                  })
      .def("set_input",
           [](Session &s, int i, nb::ndarray<nb::c_contig, nb::device::cpu> a) -> Status {
             size_t nbytes = a.nbytes();
             ember_status st = ember_session_set_input(s.s, i, a.data(), nbytes);
             return {int(st), st == EMBER_OK ? std::string() : std::string(ember_session_last_error(s.s))};
           })
      .def("bind_input",
           [](Session &s, int i, nb::ndarray<nb::c_contig, nb::device::cpu> a) -> Status {
             ember_status st = ember_session_bind_input(s.s, i, a.data(), a.nbytes());
             return {int(st), st == EMBER_OK ? std::string() : std::string(ember_session_last_error(s.s))};
           })
      .def("bind_output",
           [](Session &s, int i, nb::ndarray<nb::c_contig, nb::device::cpu> a) -> Status {
             ember_status st = ember_session_bind_output(s.s, i, a.data(), a.nbytes());
             return {int(st), st == EMBER_OK ? std::string() : std::string(ember_session_last_error(s.s))};
           })
      .def("unbind_output",
           [](Session &s, int i) -> Status {
             ember_status st = ember_session_bind_output(s.s, i, nullptr, 0);
             return {int(st), st == EMBER_OK ? std::string() : std::string(ember_session_last_error(s.s))};
           })
      .def("run",
           [](Session &s) -> Status {
             ember_status st;
             {
               nb::gil_scoped_release release;
               st = ember_session_run(s.s);
             }
             return {int(st), st == EMBER_OK ? std::string() : std::string(ember_session_last_error(s.s))};
           })
      .def("read_output",
           [](Session &s, int i, nb::ndarray<nb::c_contig, nb::device::cpu> dst) -> Status {
             const void *data = nullptr;
             size_t n = 0;
             ember_status st = ember_session_get_output(s.s, i, &data, &n);
             if (st != EMBER_OK) return {int(st), std::string(ember_session_last_error(s.s))};
             if (dst.nbytes() != n) return {int(EMBER_ERR_INVALID_ARGUMENT), "output buffer size mismatch"};
             std::memcpy(dst.data(), data, n);
             return {0, std::string()};
           })
      .def("set_profiling", [](Session &s, bool on) { ember_session_set_profiling(s.s, on ? 1 : 0); })
      .def("node_times", [](Session &s) {
        const uint64_t *ns = nullptr;
        int32_t count = 0;
        ember_session_node_times(s.s, &ns, &count);
        return std::vector<uint64_t>(ns, ns + count);
      });
}
