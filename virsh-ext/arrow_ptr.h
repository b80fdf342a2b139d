// Owning handles of the libvirt and libxml2 objects the `arrow` command
// holds: an Owned<T> frees its object on scope exit with the library's own
// function, and the release() overloads below are the only places that
// call one.
#pragma once

#include <libvirt/libvirt.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <cstdlib>
#include <memory>

namespace arrow::cli {

namespace owned_detail {

inline void release(virConnectPtr p) { virConnectClose(p); }
inline void release(virDomainPtr p) { virDomainFree(p); }
inline void release(virStreamPtr p) { virStreamFree(p); }
// virDomainListGetStats' NULL-terminated array, with its records.
inline void release(virDomainStatsRecordPtr* p) { virDomainStatsRecordListFree(p); }
// virConnectListAllDomains' array only (as Owned<virDomainPtr[]>): its
// domains are to be adopted one by one.
inline void release(virDomainPtr* p) { std::free(p); }
// A string libvirt returns for the caller to free (virDomainGetXMLDesc).
inline void release(char* p) { std::free(p); }
inline void release(xmlDocPtr p) { xmlFreeDoc(p); }
inline void release(xmlChar* p) { xmlFree(p); }
inline void release(xmlXPathContextPtr p) { xmlXPathFreeContext(p); }
inline void release(xmlXPathObjectPtr p) { xmlXPathFreeObject(p); }

struct Release {
  template <typename T>
  void operator()(T* p) const {
    release(p);
  }
};

}  // namespace owned_detail

// Owned<virConnect>, Owned<virDomain>, Owned<virStream>, Owned<char>,
// Owned<xmlDoc>, Owned<xmlChar> …: a std::unique_ptr with the matching
// release(); a type without one does not compile.
template <typename T>
using Owned = std::unique_ptr<T, owned_detail::Release>;

}  // namespace arrow::cli
